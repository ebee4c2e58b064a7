"""WhaticketProvider: adapter skeleton (being written)."""

from integrations.providers.base import Provider


class WhaticketProvider(Provider):
    kind = "whaticket"
    webhook_endpoint = "whaticket"
    webhook_path_secret = False
    webhook_handshake = False
