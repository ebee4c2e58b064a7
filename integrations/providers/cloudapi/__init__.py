"""Meta WhatsApp Business Cloud API adapter (the official API, graph.facebook.com).

- `provider`: CloudApiProvider: the verification handshake, signature checks, splitting batched
  webhooks by phone number id, the outbound calls and Meta's error codes.
- `inbound`: the webhook change parsers and their tables (messages, statuses, senders and BSUIDs).
"""

from integrations.providers.cloudapi.provider import CloudApiProvider

__all__ = ["CloudApiProvider"]
