"""The normalized vocabulary every adapter speaks: plain frozen dataclasses, no Django."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class GatewayConfig:
    """What an adapter needs of a Gateway row (plain strings, secrets already decrypted)."""

    kind: str
    base_url: str
    api_key: str = ""
    webhook_secret: str = ""
    verify_token: str = ""


@dataclass(frozen=True)
class ChipAddress:
    """How the gateway names one of our numbers."""

    instance_name: str
    instance_token: str = ""
    phone: str = ""


@dataclass(frozen=True)
class Contact:
    """Who a message is from (or to). Any identifier may be missing; phone is E.164 with '+'."""

    phone: str | None = None
    lid: str | None = None
    bsuid: str | None = None
    push_name: str = ""

    @property
    def known(self) -> bool:
        return bool(self.phone or self.lid or self.bsuid)


@dataclass(frozen=True)
class WebhookRequest:
    """One webhook delivery as the adapter may see it: headers, the raw bytes, URL parts."""

    headers: Mapping[str, str]
    body: bytes
    path_secret: str = ""
    query: Mapping[str, str] = field(default_factory=dict)


# --- inbound events --------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboundMessage:
    """A message in a one-to-one chat, from the contact or (from_me) from our own number."""

    provider_message_id: str
    contact: Contact
    from_me: bool
    kind: str  # text, image, audio, video, document, location, contact, sticker, reaction, interactive, unknown
    text: str = ""
    caption: str = ""
    mime_type: str = ""
    file_name: str = ""
    media_url: str = ""  # where the provider serves the file, when it says (download with the provider's auth)
    media_id: str = ""  # the provider's media handle, when files are fetched by id (Cloud API)
    latitude: float | None = None
    longitude: float | None = None
    quoted_id: str = ""
    timestamp: datetime | None = None
    sent_by_api: bool = False  # from_me and sent through the gateway's API (possibly by us)
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StatusUpdate:
    """Delivery progress of a message we (or our number) sent: sent, delivered, read, played, failed."""

    provider_message_id: str
    status: str
    error: str = ""
    recipient: Contact | None = None


@dataclass(frozen=True)
class MessageEdited:
    provider_message_id: str
    text: str


@dataclass(frozen=True)
class MessageRevoked:
    provider_message_id: str


@dataclass(frozen=True)
class ConnectionUpdate:
    state: str  # chips.models.SessionState values
    reason_code: int | None = None
    detail: str = ""
    banned: bool = False  # the gateway's report is a WhatsApp ban signal (see each adapter's table)


@dataclass(frozen=True)
class QrUpdate:
    qr_code: str = ""
    pairing_code: str = ""


@dataclass(frozen=True)
class IdentityLink:
    """A payload revealed that two identifiers are the same person (e.g. a LID and a phone)."""

    contact: Contact


@dataclass(frozen=True)
class Ignored:
    """A valid event Recado has no use for (groups, broadcasts, unsubscribed event types)."""

    reason: str


Event = (
    InboundMessage
    | StatusUpdate
    | MessageEdited
    | MessageRevoked
    | ConnectionUpdate
    | QrUpdate
    | IdentityLink
    | Ignored
)


@dataclass(frozen=True)
class PayloadPart:
    """The events of one body that concern one chip (a Cloud API body may concern several)."""

    route_key: str
    events: list[Event]


# --- sessions ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionInfo:
    """What a gateway says about a chip's session when we ask (create, connect, state)."""

    # chips.models.SessionState values: created, qr, pairing, connecting, connected, disconnected, logged_out
    state: str
    qr_code: str = ""  # what the QR encodes (the raw string, not an image), when the gateway gives it
    qr_image: str = ""  # a data: URI / base64 PNG, when that is all the gateway gives
    pairing_code: str = ""
    phone: str = ""  # E.164 of the connected number, when the gateway tells
    reason_code: int | None = None
    banned: bool = False  # the gateway's answer is a WhatsApp ban signal
    detail: str = ""


# --- outbound ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str | None
    status: str = "sent"


@dataclass(frozen=True)
class MediaFile:
    content: bytes
    mime_type: str = ""
    file_name: str = ""
