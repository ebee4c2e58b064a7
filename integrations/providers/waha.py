"""WahaProvider: adapter skeleton (being written)."""

from integrations.providers.base import Provider


class WahaProvider(Provider):
    kind = "waha"
    webhook_endpoint = "waha"
    webhook_path_secret = False
    webhook_handshake = False
