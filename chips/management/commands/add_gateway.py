from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from chips.services import gateway_create
from integrations.providers.registry import PROVIDERS


class Command(BaseCommand):
    help = "Register a WhatsApp gateway (a provider server or account that chips connect through)."

    def add_arguments(self, parser):
        kinds = sorted(kind for kind in PROVIDERS if kind != "sandbox")
        parser.add_argument("--kind", required=True, choices=kinds, help="Provider of the gateway.")
        parser.add_argument("--name", required=True, help="A short unique name (letters, digits, - and _).")
        parser.add_argument("--base-url", required=True, help="Where the gateway's API answers, e.g. http://evo:8080")
        parser.add_argument("--api-key", required=True, help="Credential for calls to the gateway (Evolution: apikey).")
        parser.add_argument(
            "--webhook-secret",
            required=True,
            help="Secret the gateway's webhooks present (Evolution: the X-Webhook-Token value or jwt_key).",
        )
        parser.add_argument("--verify-token", default="", help="Cloud API webhook handshake token.")

    def handle(self, *args, **options):
        try:
            gateway = gateway_create(
                kind=options["kind"],
                name=options["name"],
                base_url=options["base_url"],
                api_key=options["api_key"],
                webhook_secret=options["webhook_secret"],
                verify_token=options["verify_token"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(self.style.SUCCESS(f"Gateway {gateway.name} ({gateway.kind}) added: {gateway.base_url}"))
