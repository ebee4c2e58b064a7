"""Evolution API v2 (Baileys) adapter.

Webhook facts (see the reference notes on Evolution): the body names its instance; event names are
lower-case dotted (`messages.upsert`) but some emitters use the enum form (`MESSAGES_UPSERT`), so
both are normalized; Evolution does not sign bodies, so requests are authenticated by a static
header we configure (`X-Webhook-Token`) or by the HS256 JWT Evolution adds when its webhook
headers contain `jwt_key`. `date_time` is server-local time mislabelled as UTC: only
`messageTimestamp` (epoch seconds) is trusted.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import jwt

from integrations.phones import is_lid, is_non_contact, is_person_jid, jid_user, normalize_phone
from integrations.providers.base import (
    ChipAddress,
    ConnectionUpdate,
    Contact,
    Event,
    Ignored,
    InboundMessage,
    Provider,
    QrUpdate,
    SendResult,
    StatusUpdate,
    WebhookRejected,
    WebhookRequest,
)

# Evolution's renderStatus: 0 ERROR, 1 PENDING, 2 SERVER_ACK, 3 DELIVERY_ACK, 4 READ, 5 PLAYED.
# PENDING on our own message means the gateway accepted it: for us that is "sent".
STATUS_MAP = {
    "ERROR": "failed",
    "PENDING": "sent",
    "SERVER_ACK": "sent",
    "DELIVERY_ACK": "delivered",
    "READ": "read",
    "PLAYED": "played",
    0: "failed",
    1: "sent",
    2: "sent",
    3: "delivered",
    4: "read",
    5: "played",
}

CONNECTION_STATE_MAP = {
    "open": "connected",
    "connecting": "connecting",
    "close": "disconnected",
    "refused": "disconnected",
}
# Close codes after which Evolution does not reconnect: the session is gone (logged out or banned).
LOGGED_OUT_CODES = frozenset({401, 402, 403, 406})

# Content key in `message` → our kind. Order matters only for messages carrying several keys.
CONTENT_KINDS: tuple[tuple[str, str], ...] = (
    ("conversation", "text"),
    ("extendedTextMessage", "text"),
    ("imageMessage", "image"),
    ("videoMessage", "video"),
    ("ptvMessage", "video"),
    ("audioMessage", "audio"),
    ("documentMessage", "document"),
    ("documentWithCaptionMessage", "document"),
    ("stickerMessage", "sticker"),
    ("locationMessage", "location"),
    ("liveLocationMessage", "location"),
    ("contactMessage", "contact"),
    ("contactsArrayMessage", "contact"),
    ("reactionMessage", "reaction"),
    ("buttonsResponseMessage", "interactive"),
    ("listResponseMessage", "interactive"),
    ("templateButtonReplyMessage", "interactive"),
    ("interactiveResponseMessage", "interactive"),
)
# Keys that travel beside the content and say nothing about the kind.
METADATA_KEYS = frozenset({"messageContextInfo", "base64", "mediaUrl", "speechToText", "contextInfo"})
# System messages (edits, revokes, key distribution): not customer content.
SYSTEM_KEYS = frozenset({"protocolMessage", "senderKeyDistributionMessage", "editedMessage", "pollUpdateMessage"})


def normalize_event_name(name: str) -> str:
    """`messages.upsert`, `MESSAGES_UPSERT` and `group-participants.update` all compare alike."""
    return re.sub(r"[.-]", "_", name).upper()


class EvolutionProvider(Provider):
    kind = "evolution"
    webhook_endpoint = "evolution"

    # --- inbound ---------------------------------------------------------------------------------

    @classmethod
    def route_key(cls, payload: Mapping[str, Any]) -> str:
        instance = payload.get("instance")
        if not isinstance(instance, str) or not instance.strip():
            raise WebhookRejected(400, "body has no 'instance' naming the Evolution instance")
        return instance

    def authenticate(self, request: WebhookRequest) -> bool:
        secret = self.config.webhook_secret
        if not secret:
            return False  # fail closed: a gateway without a secret accepts nothing
        headers = request.headers
        token = headers.get("X-Webhook-Token", "")
        if token:
            return hmac.compare_digest(token.encode(), secret.encode())
        authorization = headers.get("Authorization", "")
        if authorization.startswith("Bearer "):
            return _valid_jwt(authorization[len("Bearer ") :].strip(), secret)
        return False

    def parse(self, payload: Mapping[str, Any]) -> list[Event]:
        event = payload.get("event")
        if not isinstance(event, str) or not event:
            raise WebhookRejected(400, "body has no 'event'")
        handler = _EVENT_PARSERS.get(normalize_event_name(event))
        if handler is None:
            return [Ignored(f"event {event} is not used")]
        data = payload.get("data")
        if isinstance(data, list):
            return [parsed for item in data for parsed in handler(_require_object(item, event))]
        return handler(_require_object(data, event))

    # --- outbound ----------------------------------------------------------------------------------

    def send_text(self, chip: ChipAddress, to: Contact, text: str) -> SendResult:
        response = self._request(
            "POST",
            f"/message/sendText/{quote(chip.instance_name, safe='')}",
            headers=self._auth_headers(chip),
            json={"number": _recipient(to), "text": text},
        )
        return SendResult(provider_message_id=_sent_message_id(response))

    def send_typing(self, chip: ChipAddress, to: Contact, duration_ms: int) -> None:
        # Evolution holds this request open for `delay` ms while "typing…" shows: it is the pause.
        self._request(
            "POST",
            f"/chat/sendPresence/{quote(chip.instance_name, safe='')}",
            headers=self._auth_headers(chip),
            json={"number": _recipient(to), "presence": "composing", "delay": int(duration_ms)},
        )

    def _auth_headers(self, chip: ChipAddress) -> dict[str, str]:
        # The global key works for every instance; an instance token, when we have one, is narrower.
        return {"apikey": chip.instance_token or self.config.api_key}


# --- webhook parsing ----------------------------------------------------------------------------------


def _valid_jwt(token: str, secret: str) -> bool:
    try:
        jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp"]}, leeway=30)
    except jwt.PyJWTError:
        return False
    return True


def _require_object(data: Any, event: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise WebhookRejected(400, f"'{event}' event has no 'data' object")
    return data


def _parse_message(data: Mapping[str, Any]) -> list[Event]:
    key = data.get("key")
    if not isinstance(key, Mapping):
        raise WebhookRejected(400, "message has no 'key'")
    message_id = key.get("id")
    remote_jid = key.get("remoteJid")
    if not isinstance(message_id, str) or not message_id or not isinstance(remote_jid, str) or not remote_jid:
        raise WebhookRejected(400, "message key needs 'id' and 'remoteJid'")
    if is_non_contact(remote_jid):
        return [Ignored("group, broadcast or channel message")]

    content = data.get("message")
    content = content if isinstance(content, Mapping) else {}
    content_keys = set(content) - METADATA_KEYS
    if content_keys and content_keys <= SYSTEM_KEYS:
        return [Ignored("system message")]

    kind, body = _content(content, data.get("messageType"))
    fields = _content_fields(kind, body)
    return [
        InboundMessage(
            provider_message_id=message_id,
            contact=_contact(key, data),
            from_me=bool(key.get("fromMe")),
            kind=kind,
            quoted_id=_quoted_id(data, body),
            timestamp=_timestamp(data.get("messageTimestamp")),
            raw=data,
            **fields,
        )
    ]


def _content(content: Mapping[str, Any], message_type: Any) -> tuple[str, Any]:
    kinds = dict(CONTENT_KINDS)
    if isinstance(message_type, str) and message_type in kinds and message_type in content:
        return kinds[message_type], content[message_type]
    for name, kind in CONTENT_KINDS:
        if name in content:
            return kind, content[name]
    return "unknown", {}


def _content_fields(kind: str, body: Any) -> dict[str, Any]:
    if isinstance(body, str):  # `conversation` holds the text itself
        return {"text": body}
    if not isinstance(body, Mapping):
        return {}
    if "message" in body and isinstance(body["message"], Mapping):  # documentWithCaptionMessage wrapper
        inner = body["message"].get("documentMessage", {})
        body = inner if isinstance(inner, Mapping) else {}
    fields: dict[str, Any] = {
        "caption": _str(body.get("caption")),
        "mime_type": _str(body.get("mimetype")),
        "file_name": _str(body.get("fileName")),
    }
    if kind == "text":
        fields["text"] = _str(body.get("text"))
    elif kind == "location":
        fields["latitude"] = _float(body.get("degreesLatitude"))
        fields["longitude"] = _float(body.get("degreesLongitude"))
        fields["text"] = " ".join(filter(None, [_str(body.get("name")), _str(body.get("address"))]))
    elif kind == "reaction":
        fields["text"] = _str(body.get("text"))
    elif kind == "interactive":
        fields["text"] = (
            _str(body.get("selectedDisplayText"))
            or _str(body.get("title"))
            or _str((body.get("singleSelectReply") or {}).get("selectedRowId"))
            or _str(body.get("selectedId"))
        )
    elif kind == "contact":
        fields["text"] = _str(body.get("displayName"))
    return fields


def _contact(key: Mapping[str, Any], data: Mapping[str, Any]) -> Contact:
    """Phone and LID from whichever of remoteJid / remoteJidAlt / senderPn carries them.

    Evolution versions disagree: lid in remoteJid with the phone in remoteJidAlt (2.3.5-2.3.6),
    the phone in both (2.3.7), or swapped (2.4): every shape yields the same contact.
    """
    candidates = [key.get("remoteJid"), key.get("remoteJidAlt"), key.get("senderPn")]
    phone = lid = None
    for jid in candidates:
        if not isinstance(jid, str) or not jid:
            continue
        if is_lid(jid) and lid is None:
            lid = jid_user(jid)
        elif phone is None and (is_person_jid(jid) or "@" not in jid):
            phone = normalize_phone(jid)
    push_name = data.get("pushName") if not key.get("fromMe") else ""
    return Contact(phone=phone, lid=lid, push_name=_str(push_name))


def _quoted_id(data: Mapping[str, Any], body: Any) -> str:
    for holder in (data.get("contextInfo"), body.get("contextInfo") if isinstance(body, Mapping) else None):
        if isinstance(holder, Mapping) and holder.get("stanzaId"):
            return _str(holder["stanzaId"])
    if isinstance(body, Mapping) and isinstance(body.get("key"), Mapping):  # reactions point at a message
        return _str(body["key"].get("id"))
    return ""


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, Mapping):  # protobuf Long: {"low": .., "high": .., "unsigned": ..}
        value = (int(value.get("high", 0)) << 32) + (int(value.get("low", 0)) & 0xFFFFFFFF)
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        return None
    if seconds > 10**11:  # milliseconds
        seconds //= 1000
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _parse_status(data: Mapping[str, Any]) -> list[Event]:
    key = data.get("key")
    message_id = data.get("keyId") or (key.get("id") if isinstance(key, Mapping) else None)
    if not isinstance(message_id, str) or not message_id:
        raise WebhookRejected(400, "status update has no 'keyId'")
    status = STATUS_MAP.get(data.get("status"))
    if status is None:
        # Edits and revokes arrive as updates without a delivery status ("DELETED" or none).
        return [Ignored("update without a delivery status")]
    return [StatusUpdate(provider_message_id=message_id, status=status)]


def _parse_connection(data: Mapping[str, Any]) -> list[Event]:
    state = CONNECTION_STATE_MAP.get(data.get("state"))
    if state is None:
        raise WebhookRejected(400, "connection update has no known 'state'")
    reason = data.get("statusReason")
    reason_code = reason if isinstance(reason, int) and not isinstance(reason, bool) else None
    if state == "disconnected" and reason_code in LOGGED_OUT_CODES:
        state = "logged_out"
    return [ConnectionUpdate(state=state, reason_code=reason_code)]


def _parse_qrcode(data: Mapping[str, Any]) -> list[Event]:
    qrcode = data.get("qrcode")
    if not isinstance(qrcode, Mapping):
        # "QR code limit reached" notices carry a message instead of a code.
        return [Ignored("qrcode event without a code")]
    return [QrUpdate(qr_code=_str(qrcode.get("code")), pairing_code=_str(qrcode.get("pairingCode")))]


_EVENT_PARSERS = {
    "MESSAGES_UPSERT": _parse_message,
    # Messages we sent through the API echo here: recorded once, matched by id.
    "SEND_MESSAGE": _parse_message,
    "MESSAGES_UPDATE": _parse_status,
    "CONNECTION_UPDATE": _parse_connection,
    "QRCODE_UPDATED": _parse_qrcode,
}


# --- outbound helpers -----------------------------------------------------------------------------


def _recipient(to: Contact) -> str:
    if to.phone:
        return to.phone.lstrip("+")
    if to.lid:
        return f"{to.lid}@lid"
    raise ValueError("contact has neither a phone nor a LID to send to")


def _sent_message_id(response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    key = body.get("key") if isinstance(body, Mapping) else None
    message_id = key.get("id") if isinstance(key, Mapping) else None
    return message_id if isinstance(message_id, str) and message_id else None


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
