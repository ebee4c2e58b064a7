from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from chips.models import Gateway
from chips.services import chip_register


class Command(BaseCommand):
    help = "Register a WhatsApp number that already exists on a gateway."

    def add_arguments(self, parser):
        parser.add_argument("--gateway", required=True, help="Name given to add_gateway.")
        parser.add_argument(
            "--instance", required=True, help="The gateway's own id for the number (Evolution: the instance name)."
        )
        parser.add_argument("--phone", required=True, help="The number in E.164, e.g. +5511987654321.")
        parser.add_argument("--instance-token", default="", help="Per-instance token, where the gateway has one.")

    def handle(self, *args, **options):
        gateway = Gateway.objects.filter(name=options["gateway"]).first()
        if gateway is None:
            raise CommandError(f"no gateway named {options['gateway']!r}; add it first with add_gateway")
        try:
            chip = chip_register(
                gateway=gateway,
                instance_name=options["instance"],
                phone=options["phone"],
                instance_token=options["instance_token"],
                triggered_by="command:register_chip",
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Chip {chip.phone} registered on {gateway.name} as {chip.instance_name!r} ({chip.status})"
            )
        )
