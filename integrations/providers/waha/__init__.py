"""WAHA (devlikeapro WhatsApp HTTP API) adapter, for its three engines (WEBJS, NOWEB, GOWS).

- `provider`: WahaProvider: routing by session, HMAC authentication, the outbound calls.
- `inbound`: the webhook event parsers, their tables and the message content.
- `identity`: WAHA's message ids, the chat and who the contact is.
"""

from integrations.providers.waha.provider import WahaProvider

__all__ = ["WahaProvider"]
