from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from chips.models import ProvisioningStatus
from chips.provisioning import connect_hint, provision_now


class Command(BaseCommand):
    help = (
        "Buy a number from Salvy in a DDD and set it up as a chip: checks the DDD has stock, buys the number, "
        "records the chip and creates its gateway session, then says how to connect it (QR or pairing code)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--ddd",
            default=settings.SALVY_DEFAULT_DDD,
            help=f"Brazilian area code, e.g. 11 (default: SALVY_DEFAULT_DDD={settings.SALVY_DEFAULT_DDD}).",
        )
        parser.add_argument("--name", default="", help="A label for the number at Salvy (optional).")
        parser.add_argument(
            "--gateway",
            default="",
            help="Name of the gateway that takes the number (default: the only active gateway that creates sessions).",
        )

    def handle(self, *args, **options):
        try:
            job = provision_now(
                ddd=options["ddd"],
                name=options["name"],
                gateway=options["gateway"] or None,
                requested_by="command:provision_chip",
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        for step in job.steps:
            self.stdout.write(f"  {step['step']}: {step['detail']}")
        if job.status != ProvisioningStatus.SUCCEEDED:
            raise CommandError(f"provisioning failed: {job.error}")
        chip = job.chip
        self.stdout.write(
            self.style.SUCCESS(
                f"Chip #{chip.pk} {chip.phone} provisioned on {chip.gateway.name} as {chip.instance_name!r} "
                f"({chip.status})"
            )
        )
        self.stdout.write(f"Next: {connect_hint(getattr(chip, 'session', None))}")
        self.stdout.write(
            f"  connect screen: {settings.PUBLIC_BASE_URL}{reverse('chips_admin:connect', args=[chip.pk])}"
        )
        self.stdout.write(f"  in a terminal:  python manage.py connect_chip {chip.phone}")
