from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from simulator.services import sandbox_setup


class Command(BaseCommand):
    help = "Create the sandbox gateway and chip used by the simulator (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--base-url",
            required=True,
            help="Where this Recado serves the fake gateway, e.g. http://127.0.0.1:8000/simulator/gateway",
        )

    def handle(self, *args, **options):
        try:
            chip = sandbox_setup(base_url=options["base_url"])
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(self.style.SUCCESS(f"Sandbox chip {chip.phone} on {chip.gateway.base_url}"))
