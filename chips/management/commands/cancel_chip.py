from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from chips.models import Chip
from chips.salvy_sync import CancelFailed, chip_cancel
from integrations.phones import normalize_phone
from integrations.salvy import CANCEL_REASONS

# Chip ids are short; anything longer is read as a phone number.
MAX_ID_DIGITS = 9


class Command(BaseCommand):
    help = (
        "Cancel a chip: release its number at Salvy (when it has one), mark it cancelled and log its gateway "
        "session out. Salvy bills the whole month of the cancellation and the number cannot be recovered."
    )

    def add_arguments(self, parser):
        parser.add_argument("chip", help="The chip's id or its phone number (E.164, e.g. +5511987654321).")
        parser.add_argument("--reason", required=True, choices=CANCEL_REASONS, help="Salvy's reason for the cancel.")

    def handle(self, *args, **options):
        chip = _find_chip(options["chip"])
        try:
            chip = chip_cancel(chip_id=chip.pk, reason=options["reason"], triggered_by="command:cancel_chip")
        except (ValidationError, CancelFailed) as exc:
            message = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            raise CommandError(message) from exc
        at_salvy = f"released at Salvy ({chip.salvy_status})" if chip.salvy_id else "no Salvy number"
        self.stdout.write(self.style.SUCCESS(f"Chip #{chip.pk} {chip.phone} cancelled: {at_salvy}"))


def _find_chip(value: str) -> Chip:
    text = value.strip()
    if text.isdigit() and len(text) <= MAX_ID_DIGITS:
        chip = Chip.objects.filter(pk=int(text)).first()
    else:
        phone = normalize_phone(text)
        if phone is None:
            raise CommandError(f"{value!r} is neither a chip id nor a phone number")
        chip = Chip.objects.filter(phone=phone).first()
    if chip is None:
        raise CommandError(f"no chip {value!r}: give the chip's id or its phone number")
    return chip
