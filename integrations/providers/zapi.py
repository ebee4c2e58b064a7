"""ZapiProvider: adapter skeleton (being written)."""

from integrations.providers.base import Provider


class ZapiProvider(Provider):
    kind = "zapi"
    webhook_endpoint = "zapi"
    webhook_path_secret = True
    webhook_handshake = False
