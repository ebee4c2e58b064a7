from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from chips.models import Gateway
from chips.services import chip_register
from integrations.providers.registry import provider_class


class Command(BaseCommand):
    help = "Register a WhatsApp number that already exists on a gateway."

    def add_arguments(self, parser):
        parser.add_argument("--gateway", required=True, help="Name given to add_gateway.")
        parser.add_argument(
            "--instance",
            default="",
            help="The gateway's own id for the number: Evolution instance, WAHA session, Z-API instance id, "
            "Cloud API phone-number id, Whaticket connection id (optional for a Whaticket gateway with one chip).",
        )
        parser.add_argument("--phone", required=True, help="The number in E.164, e.g. +5511987654321.")
        parser.add_argument("--instance-token", default="", help="Z-API's per-instance token (in its API URLs).")

    def handle(self, *args, **options):
        gateway = Gateway.objects.filter(name=options["gateway"]).first()
        if gateway is None:
            raise CommandError(f"no gateway named {options['gateway']!r}; add it first with add_gateway")
        if not options["instance"]:
            if not provider_class(gateway.kind).instance_optional:
                raise CommandError("--instance is required: the gateway's own id for this number")
            options["instance"] = "default"  # a relay in front of one number names no connection
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
