from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from chips.services import gateway_create
from integrations.providers.registry import PROVIDERS


class Command(BaseCommand):
    help = (
        "Register a WhatsApp gateway (a provider server or account that chips connect through). "
        "--api-key is Evolution's apikey, WAHA's X-Api-Key, Z-API's Client-Token, Whaticket's Bearer token "
        "or the Cloud API access token; --webhook-secret is the Evolution X-Webhook-Token (or jwt_key), the "
        "WAHA HMAC key, the Z-API URL secret (/webhooks/zapi/<secret>/), the Whaticket HMAC secret or the "
        "Meta app secret; --verify-token is the Cloud API GET handshake token."
    )

    def add_arguments(self, parser):
        kinds = sorted(kind for kind in PROVIDERS if kind != "sandbox")
        parser.add_argument("--kind", required=True, choices=kinds, help="Provider of the gateway.")
        parser.add_argument("--name", required=True, help="A short unique name (letters, digits, - and _).")
        parser.add_argument(
            "--base-url",
            required=True,
            help="Where the gateway's API answers: http://evolution:8080, http://waha:3000, https://api.z-api.io, "
            "https://whaticket.example.com, https://graph.facebook.com/v23.0",
        )
        parser.add_argument("--api-key", required=True, help="Credential for calls to the gateway (see above).")
        parser.add_argument("--webhook-secret", required=True, help="What authenticates its webhooks (see above).")
        parser.add_argument("--verify-token", default="", help="Cloud API webhook handshake token (hub.verify_token).")

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
