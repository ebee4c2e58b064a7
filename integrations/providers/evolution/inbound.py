"""Evolution webhook parsing: one parser per event, and the tables they read.

Webhook facts (see the reference notes on Evolution): event names are lower-case dotted
(`messages.upsert`) but some emitters use the enum form (`MESSAGES_UPSERT`), so both are normalized.
`date_time` is server-local time mislabelled as UTC: only `messageTimestamp` (epoch seconds) is
trusted.

Edits and revokes (read in `whatsapp.baileys.service.ts`, tags 2.3.0-2.4.0-rc2): a protocol message
never reaches `messages.upsert` in v2; Evolution posts the Baileys `protocolMessage` itself as
`messages.edited` (`{"key": <the original message's key>, "type": "MESSAGE_EDIT" | "REVOKE", ...}`),
the revoke again as `messages.delete` (the original key, plus `status: "DELETED"` from 2.3.7), and
the edit as a `messages.update` whose status is "DELETED" (≤2.3.6) or a made-up "SERVER_ACK" with the
new content in `message.editedMessage` (2.3.7+). v1 delivered the protocol message as an upsert.

Who sent a fromMe message: Evolution's `source` is Baileys' `getDevice(key.id)`, a guess from the id's
shape. Baileys before 6.7.5 (June 2024; Evolution 1.x) gave its own sends `BAE5` + 12 hex digits,
which no WhatsApp client generates; since then (every Evolution 2.x, the EvolutionAPI fork included)
it uses `3EB0` + 18 hex, the shape of WhatsApp Web's ids, so an upsert of a message typed on WhatsApp
Web and one sent through the API look alike (`source: "web"`). Only `send.message` (and legacy
`BAE5…` ids) say "sent through the API".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from integrations.phones import is_lid, is_non_contact, is_person_jid, jid_user, normalize_phone
from integrations.providers.baileys import (
    BAN_CLOSE_CODES,
    BAN_CLOSE_REASONS,
    METADATA_KEYS,
    PROTOCOL_EDIT,
    PROTOCOL_REVOKE,
    SYSTEM_KEYS,
    WRAPPER_KEYS,
    content_fields,
    content_kind,
)
from integrations.providers.baileys import quoted_id as content_quoted_id
from integrations.providers.base import (
    ConnectionUpdate,
    Contact,
    Event,
    Ignored,
    InboundMessage,
    MessageEdited,
    MessageRevoked,
    QrUpdate,
    StatusUpdate,
    WebhookRejected,
)
from integrations.providers.values import as_str, epoch_datetime

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
# Evolution posts `connection.update` `state: "close"` only for these (`codesToNotReconnect` in
# whatsapp.baileys.service.ts@2.3.6); any other close is reconnected silently. All of them are treated
# as ban signals, 401 included: see baileys.BAN_CLOSE_CODES for why.
LOGGED_OUT_CODES = frozenset({401, 402, 403, 406})

# Evolution adds these beside the Baileys content: the file (`webhook.base64`), its S3 copy, and a
# transcription. Like Baileys' own metadata, they say nothing about the kind.
EVOLUTION_METADATA_KEYS = METADATA_KEYS | {"base64", "mediaUrl", "speechToText"}
# Ids Baileys < 6.7.5 gave the messages it sent itself (generateMessageID: 'BAE5' + 6 random bytes).
LEGACY_API_MESSAGE_ID = re.compile(r"^BAE5[0-9A-F]{12}$")


def normalize_event_name(name: str) -> str:
    """`messages.upsert`, `MESSAGES_UPSERT` and `group-participants.update` all compare alike."""
    return re.sub(r"[.-]", "_", name).upper()


def _require_object(data: Any, event: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise WebhookRejected(400, f"'{event}' event has no 'data' object")
    return data


def _message_key(data: Mapping[str, Any]) -> tuple[Mapping[str, Any], str, str]:
    key = data.get("key")
    if not isinstance(key, Mapping):
        raise WebhookRejected(400, "message has no 'key'")
    message_id = key.get("id")
    remote_jid = key.get("remoteJid")
    if not isinstance(message_id, str) or not message_id or not isinstance(remote_jid, str) or not remote_jid:
        raise WebhookRejected(400, "message key needs 'id' and 'remoteJid'")
    return key, message_id, remote_jid


def _parse_message(data: Mapping[str, Any], *, via_api: bool = False) -> list[Event]:
    key, message_id, remote_jid = _message_key(data)
    if is_non_contact(remote_jid):
        return [Ignored("group, broadcast or channel message")]

    envelope = data.get("message")
    envelope = envelope if isinstance(envelope, Mapping) else {}
    content = _unwrap(envelope)
    protocol = _protocol_message(content)
    if protocol is not None:  # v1 (and other emitters) deliver edits and revokes as upserts
        return _protocol_events(protocol)
    content_keys = set(content) - EVOLUTION_METADATA_KEYS
    if content_keys and content_keys <= SYSTEM_KEYS:
        return [Ignored("system message")]

    from_me = via_api or bool(key.get("fromMe"))
    kind, body = content_kind(content, data.get("messageType"))
    fields = content_fields(kind, body)
    return [
        InboundMessage(
            provider_message_id=message_id,
            contact=_contact(key, data, from_me=from_me),
            from_me=from_me,
            kind=kind,
            media_url=as_str(envelope.get("mediaUrl")),
            quoted_id=_quoted_id(data, body),
            timestamp=epoch_datetime(data.get("messageTimestamp")),
            sent_by_api=from_me and (via_api or bool(LEGACY_API_MESSAGE_ID.match(message_id))),
            raw=data,
            **fields,
        )
    ]


def _parse_sent(data: Mapping[str, Any]) -> list[Event]:
    """`send.message`: Evolution's echo of a message sent through its API (status PENDING).

    Its `key.id` is the id the send call answered with, so the domain folds it into our outbound row.
    """
    return _parse_message(data, via_api=True)


def _unwrap(content: Mapping[str, Any]) -> Mapping[str, Any]:
    # documentWithCaptionMessage only comes from v1 here: v2's prepareMessage already unwraps it.
    for _ in range(4):  # wrappers nest (ephemeral → view-once → content); bounded against loops
        for wrapper in WRAPPER_KEYS:
            inner = content.get(wrapper)
            if isinstance(inner, Mapping) and isinstance(inner.get("message"), Mapping):
                content = inner["message"]
                break
        else:
            return content
    return content


def _protocol_message(content: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The Baileys protocolMessage of an edit or revoke, where Evolution would look for it."""
    protocol = content.get("protocolMessage")
    if isinstance(protocol, Mapping):
        return protocol
    edited = content.get("editedMessage")
    if isinstance(edited, Mapping) and isinstance(edited.get("message"), Mapping):
        protocol = edited["message"].get("protocolMessage")
        if isinstance(protocol, Mapping):
            return protocol
    return None


def _protocol_events(protocol: Mapping[str, Any]) -> list[Event]:
    """A protocolMessage → MessageEdited / MessageRevoked of the message its `key` names."""
    kind = protocol.get("type")
    is_edit = kind in PROTOCOL_EDIT or (kind is None and isinstance(protocol.get("editedMessage"), Mapping))
    if not is_edit and kind not in PROTOCOL_REVOKE:
        return [Ignored(f"protocol message {kind!r}")]  # history sync, key share, ephemeral setting…
    key = protocol.get("key")
    target = key.get("id") if isinstance(key, Mapping) else None
    if not isinstance(target, str) or not target:
        raise WebhookRejected(400, "edit or revoke has no 'key.id' of the message it changes")
    if is_non_contact(key.get("remoteJid")):
        return [Ignored("edit or revoke in a group, broadcast or channel")]
    if not is_edit:
        return [MessageRevoked(provider_message_id=target)]
    text = _edited_text(protocol.get("editedMessage"))
    if not text:
        return [Ignored("edit without text")]
    return [MessageEdited(provider_message_id=target, text=text)]


def _edited_text(content: Any) -> str:
    """The new text (or caption) of an edit, through the editedMessage / protocolMessage wrappers."""
    for _ in range(4):
        if not isinstance(content, Mapping):
            return ""
        edited = content.get("editedMessage")
        protocol = content.get("protocolMessage")
        if isinstance(edited, Mapping):
            content = edited.get("message") if isinstance(edited.get("message"), Mapping) else edited
        elif isinstance(protocol, Mapping) and isinstance(protocol.get("editedMessage"), Mapping):
            content = protocol["editedMessage"]
        else:
            break
    if not isinstance(content, Mapping):
        return ""
    kind, body = content_kind(_unwrap(content))
    fields = content_fields(kind, body)
    return fields.get("text") or fields.get("caption") or ""


def _parse_edited(data: Mapping[str, Any]) -> list[Event]:
    """`messages.edited` (and `send.message.update`): the protocolMessage itself, as Evolution posts it."""
    key = data.get("key")
    if not isinstance(key, Mapping):
        raise WebhookRejected(400, "edit event has no 'key' of the edited message")
    content = data.get("message")
    if not isinstance(content, Mapping):
        return _protocol_events(data)
    # An upsert-shaped body instead (other Evolution-compatible emitters): the protocol message inside
    # it, or else the new content of the message its key names.
    protocol = _protocol_message(_unwrap(content))
    if protocol is not None:
        return _protocol_events(protocol)
    message_id = key.get("id")
    if not isinstance(message_id, str) or not message_id:
        raise WebhookRejected(400, "edit event has no 'key.id' of the edited message")
    if is_non_contact(key.get("remoteJid")):
        return [Ignored("edit in a group, broadcast or channel")]
    text = _edited_text(content)
    return [MessageEdited(provider_message_id=message_id, text=text)] if text else [Ignored("edit without text")]


def _parse_deleted(data: Mapping[str, Any]) -> list[Event]:
    """`messages.delete`: the revoked message's key (`{remoteJid, fromMe, id, participant?, status?}`)."""
    key = data.get("key") if isinstance(data.get("key"), Mapping) else data
    message_id = key.get("id") or data.get("keyId")
    if not isinstance(message_id, str) or not message_id:
        raise WebhookRejected(400, "delete event has no message 'id'")
    if is_non_contact(key.get("remoteJid")):
        return [Ignored("deletion in a group, broadcast or channel")]
    return [MessageRevoked(provider_message_id=message_id)]


def _contact(key: Mapping[str, Any], data: Mapping[str, Any], *, from_me: bool = False) -> Contact:
    """Phone and LID from whichever of remoteJid / remoteJidAlt / senderPn carries them.

    Evolution versions disagree: the lid in remoteJid with the phone in `senderPn` (2.2-2.3.0) or in
    remoteJidAlt (2.3.3-2.3.6), the phone in both (2.3.7), or swapped with `addressingMode: "pn"`
    (2.4): every shape yields the same contact. A lid alone still names the contact (phone None).
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
    push_name = data.get("pushName") if not from_me else ""
    return Contact(phone=phone, lid=lid, push_name=as_str(push_name))


def _quoted_id(data: Mapping[str, Any], body: Any) -> str:
    # v2 hoists contextInfo to `data`; v1 leaves it inside the content.
    context = data.get("contextInfo")
    if isinstance(context, Mapping) and context.get("stanzaId"):
        return as_str(context["stanzaId"])
    return content_quoted_id(body)


def _parse_status(data: Mapping[str, Any]) -> list[Event]:
    key = data.get("key")
    message_id = data.get("keyId") or (key.get("id") if isinstance(key, Mapping) else None)
    if not isinstance(message_id, str) or not message_id:
        raise WebhookRejected(400, "status update has no 'keyId'")
    update = data.get("message")
    if isinstance(update, Mapping) and ("editedMessage" in update or "protocolMessage" in update):
        # 2.3.7+ posts an edit as an update with a made-up SERVER_ACK and the new content.
        text = _edited_text(update)
        return [MessageEdited(provider_message_id=message_id, text=text)] if text else [Ignored("edit without text")]
    raw_status = data.get("status")
    # Names or renderStatus numbers; anything else (a list, a bool) is no status at all.
    known = isinstance(raw_status, (str, int)) and not isinstance(raw_status, bool)
    status = STATUS_MAP.get(raw_status) if known else None
    if status is None:
        # Edits and revokes arrive as updates without a delivery status ("DELETED" or none).
        return [Ignored("update without a delivery status")]
    return [StatusUpdate(provider_message_id=message_id, status=status)]


def _parse_connection(data: Mapping[str, Any]) -> list[Event]:
    raw_state = data.get("state")
    state = CONNECTION_STATE_MAP.get(raw_state) if isinstance(raw_state, str) else None
    if state is None:
        raise WebhookRejected(400, "connection update has no known 'state'")
    reason = data.get("statusReason")
    reason_code = reason if isinstance(reason, int) and not isinstance(reason, bool) else None
    if state == "disconnected" and reason_code in LOGGED_OUT_CODES:
        state = "logged_out"
    if raw_state == "close" and reason_code in BAN_CLOSE_CODES:
        detail = f"{BAN_CLOSE_REASONS[reason_code]} ({reason_code})"
        return [ConnectionUpdate(state=state, reason_code=reason_code, detail=detail, banned=True)]
    return [ConnectionUpdate(state=state, reason_code=reason_code)]


def _parse_qrcode(data: Mapping[str, Any]) -> list[Event]:
    qrcode = data.get("qrcode")
    if not isinstance(qrcode, Mapping):
        # "QR code limit reached" notices carry a message instead of a code.
        return [Ignored("qrcode event without a code")]
    return [QrUpdate(qr_code=as_str(qrcode.get("code")), pairing_code=as_str(qrcode.get("pairingCode")))]


_EVENT_PARSERS = {
    "MESSAGES_UPSERT": _parse_message,
    # Messages we sent through the API echo here (and usually again as a fromMe upsert): one row, by id.
    "SEND_MESSAGE": _parse_sent,
    "MESSAGES_UPDATE": _parse_status,
    "MESSAGES_EDITED": _parse_edited,
    "SEND_MESSAGE_UPDATE": _parse_edited,
    "MESSAGES_DELETE": _parse_deleted,
    "CONNECTION_UPDATE": _parse_connection,
    "QRCODE_UPDATED": _parse_qrcode,
}
