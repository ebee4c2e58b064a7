"""CloudApiProvider: adapter skeleton (being written)."""

from integrations.providers.base import Provider


class CloudApiProvider(Provider):
    kind = "cloudapi"
    webhook_endpoint = "cloudapi"
    webhook_path_secret = False
    webhook_handshake = True
