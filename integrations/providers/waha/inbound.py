"""WAHA webhook parsing: one parser per event, the tables they read, and the message content.

Each parser takes the event's `payload`, our own ids (`me`) and the whole envelope; WAHA's engines
differ in where the raw WhatsApp message sits (NOWEB `_data.message`, GOWS `_data.Message`, WEBJS
`_data.type` and the top-level fields).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations.providers.baileys import (
    ENCRYPTED_EDIT,
    METADATA_KEYS,
    SYSTEM_KEYS,
    content_kind,
    document_body,
    encrypted_edit,
    interactive_text,
    place_text,
)
from integrations.providers.base import (
    ConnectionUpdate,
    Event,
    Ignored,
    InboundMessage,
    MessageEdited,
    MessageRevoked,
    StatusUpdate,
    WebhookRejected,
)
from integrations.providers.values import as_float, as_str, epoch_datetime
from integrations.providers.waha.identity import (
    _chat,
    _contact,
    _from_me,
    _id_string,
    _jid,
    _message_id,
    _one_to_one,
    _raw_id,
    _split_message_id,
)

# WAMessageAck: -1 ERROR, 0 PENDING, 1 SERVER, 2 DEVICE, 3 READ, 4 PLAYED. PENDING is no news.
ACK_STATUS = {-1: "failed", 1: "sent", 2: "delivered", 3: "read", 4: "played"}
ACK_NAMES = {"ERROR": -1, "PENDING": 0, "SERVER": 1, "DEVICE": 2, "READ": 3, "PLAYED": 4}

# WAHASessionStatus → chips.models.SessionState. FAILED: "authorization is likely required again
# or the device was disconnected" (docs) — the gateway stopped trying, the chip is not connected.
#
# Ban signals: none. `session.status` carries a status, not why the session ended. FAILED follows a
# logout from the phone (NOWEB: Baileys closed with 401 loggedOut, `session.noweb.core.ts` @55fc6a4),
# the sixth unscanned QR ("After that, the session moves to the FAILED status", docs
# `content/docs/how-to/sessions/-qr-code.md`) and engine crashes alike, and WAHA documents no ban
# status (devlikeapro/waha-docs @1a6f1c4, `how-to/sessions/index.md` "Session Status"). So a WAHA
# ConnectionUpdate never says `banned`; a banned number shows as FAILED and its logout as such.
SESSION_STATE_MAP = {
    "STOPPED": "disconnected",
    "STARTING": "connecting",
    "SCAN_QR_CODE": "qr",
    "PASSKEY_REQUIRED": "pairing",
    "PASSKEY_CONFIRMATION_REQUIRED": "pairing",
    "WORKING": "connected",
    "FAILED": "disconnected",
}

# WEBJS `_data.type` (whatsapp-web.js MessageTypes) → kind; the system types are not conversation.
WEBJS_TYPES = {
    "chat": "text",
    "image": "image",
    "video": "video",
    "ptv": "video",
    "audio": "audio",
    "ptt": "audio",
    "document": "document",
    "sticker": "sticker",
    "location": "location",
    "vcard": "contact",
    "multi_vcard": "contact",
    "reaction": "reaction",
    "buttons_response": "interactive",
    "list_response": "interactive",
    "template_button_reply": "interactive",
    "interactive_response": "interactive",
}
WEBJS_SYSTEM_TYPES = frozenset(
    {
        "e2e_notification",
        "notification",
        "notification_template",
        "gp2",
        "call_log",
        "protocol",
        "revoked",
        "ciphertext",
        "broadcast_notification",
        "pinned_message",
        "debug",
    }
)
MEDIA_KINDS = frozenset({"image", "video", "audio", "document", "sticker"})


def _parse_message(payload: Mapping[str, Any], me: frozenset[str], envelope: Mapping[str, Any]) -> list[Event]:
    message_id = _message_id(payload)
    key = _split_message_id(message_id)
    from_me = _from_me(payload, key)
    chat = _chat(payload, key, from_me)
    if chat is None:
        raise WebhookRejected(400, "message has no chat ('from'/'to')")
    if not _one_to_one(chat, payload, key):
        return [Ignored("group, broadcast, status or channel message")]

    data = payload.get("_data")
    data = data if isinstance(data, Mapping) else {}
    content = _content(data)
    webjs_type = data.get("type") if isinstance(data.get("type"), str) else ""
    content_keys = set(content) - METADATA_KEYS
    if webjs_type in WEBJS_SYSTEM_TYPES or (content_keys and content_keys <= SYSTEM_KEYS):
        return [Ignored("system message")]

    kind, body = _kind(payload, content, webjs_type)
    if payload.get("hasMedia") is True and kind in ("text", "unknown") and _media_mime(payload):
        # WAHA stored a file for it: the file decides (the text in `body` is its caption).
        kind = _kind_of_mime(_media_mime(payload))
    fields = _fields(kind, payload, body, data)
    quoted_id = fields.pop("quoted_id", "") or _quoted_id(payload, body, data)
    return [
        InboundMessage(
            provider_message_id=key.raw_id,
            contact=_contact(chat, payload, data, from_me, me),
            from_me=from_me,
            kind=kind,
            quoted_id=quoted_id,
            timestamp=epoch_datetime(payload.get("timestamp")) or epoch_datetime(envelope.get("timestamp")),
            sent_by_api=from_me and payload.get("source") == "api",
            raw=payload,
            **fields,
        )
    ]


def _parse_reaction(payload: Mapping[str, Any], me: frozenset[str], envelope: Mapping[str, Any]) -> list[Event]:
    message_id = _message_id(payload)
    key = _split_message_id(message_id)
    from_me = _from_me(payload, key)
    chat = _chat(payload, key, from_me)
    reaction = payload.get("reaction")
    if chat is None or not isinstance(reaction, Mapping):
        raise WebhookRejected(400, "message.reaction needs a chat and a 'reaction' object")
    if not _one_to_one(chat, payload, key):
        return [Ignored("reaction in a group, broadcast or channel")]
    emoji = as_str(reaction.get("text"))
    if not emoji:
        return [Ignored("reaction removed")]
    data = payload.get("_data")
    data = data if isinstance(data, Mapping) else {}
    return [
        InboundMessage(
            provider_message_id=key.raw_id,
            contact=_contact(chat, payload, data, from_me, me),
            from_me=from_me,
            kind="reaction",
            text=emoji,
            quoted_id=_raw_id(reaction.get("messageId")),
            timestamp=epoch_datetime(payload.get("timestamp")) or epoch_datetime(envelope.get("timestamp")),
            sent_by_api=from_me and payload.get("source") == "api",
            raw=payload,
        )
    ]


def _parse_ack(payload: Mapping[str, Any], me: frozenset[str], envelope: Mapping[str, Any]) -> list[Event]:
    message_id = _message_id(payload)
    key = _split_message_id(message_id)
    ack = _ack(payload)
    if ack is None:
        raise WebhookRejected(400, "message.ack has no known 'ack' or 'ackName'")
    from_me = _from_me(payload, key)
    if not from_me:
        return [Ignored("ack of a message we received")]
    chat = key.chat or _jid(payload.get("from"))
    if chat and not _one_to_one(chat, payload, key):
        return [Ignored("ack in a group, broadcast or channel")]
    status = ACK_STATUS.get(ack)
    if status is None:
        return [Ignored("message pending")]
    recipient = _contact(chat, payload, {}, True, me) if chat else None
    error = "WhatsApp reported an error sending the message (ack ERROR)" if status == "failed" else ""
    return [
        StatusUpdate(
            provider_message_id=key.raw_id,
            status=status,
            error=error,
            recipient=recipient if recipient and recipient.known else None,
        )
    ]


def _parse_edited(payload: Mapping[str, Any], me: frozenset[str], envelope: Mapping[str, Any]) -> list[Event]:
    key = _split_message_id(_message_id(payload))
    chat = key.chat or _jid(payload.get("from"))
    if chat and not _one_to_one(chat, payload, key):
        return [Ignored("edit in a group, broadcast or channel")]
    # `editedMessageId` is the edited message's bare id. The payload's own id is the edit action's
    # ("it can be the same, for instance, in WEBJS", docs): the fallback when the field is absent.
    edited = _raw_id(payload.get("editedMessageId")) or key.raw_id
    text = as_str(payload.get("body"))
    if not text:
        # WhatsApp edits to some text, never to nothing: an empty body is an edit WAHA could not read
        # (NOWEB passes a contact's encrypted edit through as it came). Applied, it would blank the message.
        raw = payload.get("_data") if isinstance(payload.get("_data"), Mapping) else {}
        content = raw.get("message") if isinstance(raw.get("message"), Mapping) else {}
        return [Ignored(ENCRYPTED_EDIT if encrypted_edit(content) else "edit without its new text")]
    return [MessageEdited(provider_message_id=edited, text=text)]


def _parse_revoked(payload: Mapping[str, Any], me: frozenset[str], envelope: Mapping[str, Any]) -> list[Event]:
    after = payload.get("after") if isinstance(payload.get("after"), Mapping) else {}
    before = payload.get("before") if isinstance(payload.get("before"), Mapping) else {}
    after_key = _split_message_id(_id_string(after.get("id")))
    chat = after_key.chat or _jid(after.get("from")) or _jid(before.get("from"))
    if chat and not _one_to_one(chat, after, after_key):
        return [Ignored("revoke in a group, broadcast or channel")]
    after_data = after.get("_data") if isinstance(after.get("_data"), Mapping) else {}
    protocol_key = after_data.get("protocolMessageKey")
    revoked = (
        _raw_id(payload.get("revokedMessageId"))
        or _raw_id(before.get("id"))
        or (_raw_id(protocol_key.get("id")) if isinstance(protocol_key, Mapping) else "")
        or after_key.raw_id
    )
    if not revoked:
        raise WebhookRejected(400, "message.revoked names no message ('revokedMessageId', 'before' or 'after')")
    return [MessageRevoked(provider_message_id=revoked)]


def _parse_session_status(payload: Mapping[str, Any], me: frozenset[str], envelope: Mapping[str, Any]) -> list[Event]:
    status = payload.get("status")
    if not isinstance(status, str) or not status:
        raise WebhookRejected(400, "session.status has no 'status'")
    state = SESSION_STATE_MAP.get(status.upper())
    if state is None:
        return [Ignored(f"session status {status} is not used")]
    return [ConnectionUpdate(state=state, detail=status.upper())]


_EVENT_PARSERS = {
    "message": _parse_message,
    # Every message, ours included (`source: api` when sent through WAHA). An incoming message comes
    # in both `message` and `message.any` with the same id: recorded once.
    "message.any": _parse_message,
    "message.reaction": _parse_reaction,
    "message.ack": _parse_ack,
    "message.ack.group": _parse_ack,
    "message.edited": _parse_edited,
    "message.revoked": _parse_revoked,
    "session.status": _parse_session_status,
}


def _content(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """The raw WhatsApp message of NOWEB (`message`) or GOWS (`Message`), unwrapped."""
    for name in ("message", "Message"):
        content = data.get(name)
        if isinstance(content, Mapping):
            for wrapper in ("ephemeralMessage", "viewOnceMessage", "viewOnceMessageV2"):
                inner = content.get(wrapper)
                if isinstance(inner, Mapping) and isinstance(inner.get("message"), Mapping):
                    content = inner["message"]
            return content
    return {}


def _kind(payload: Mapping[str, Any], content: Mapping[str, Any], webjs_type: str) -> tuple[str, Any]:
    # The raw WhatsApp message (NOWEB's Baileys `_data.message`, GOWS' `_data.Message`) decides.
    kind, body = content_kind(content)
    if kind != "unknown":
        return kind, body
    if webjs_type in WEBJS_TYPES:
        return WEBJS_TYPES[webjs_type], {}
    if isinstance(payload.get("location"), Mapping):
        return "location", {}
    if isinstance(payload.get("vCards"), list) and payload["vCards"]:
        return "contact", {}
    mime_type = _media_mime(payload)
    if payload.get("hasMedia") or mime_type:
        return _kind_of_mime(mime_type), {}
    if as_str(payload.get("body")):
        return "text", {}
    return "unknown", {}


def _media_mime(payload: Mapping[str, Any]) -> str:
    media = payload.get("media")
    return as_str(media.get("mimetype")) if isinstance(media, Mapping) else ""


def _kind_of_mime(mime_type: str) -> str:
    major = mime_type.split("/", 1)[0].lower()
    if mime_type.lower().startswith("image/webp"):
        return "sticker"
    return {"image": "image", "video": "video", "audio": "audio"}.get(major, "document" if mime_type else "unknown")


def _fields(kind: str, payload: Mapping[str, Any], content: Any, data: Mapping[str, Any]) -> dict[str, Any]:
    body = document_body(content) if isinstance(content, Mapping) else {}
    text = as_str(payload.get("body"))
    fields: dict[str, Any] = {}
    if kind in MEDIA_KINDS:
        media = payload.get("media") if isinstance(payload.get("media"), Mapping) else {}
        fields["caption"] = text or as_str(body.get("caption")) or as_str(data.get("caption"))
        fields["media_url"] = as_str(media.get("url")) or as_str(payload.get("mediaUrl"))
        fields["mime_type"] = (
            as_str(media.get("mimetype")) or as_str(body.get("mimetype")) or as_str(data.get("mimetype"))
        )
        fields["file_name"] = (
            as_str(media.get("filename")) or as_str(body.get("fileName")) or as_str(data.get("filename"))
        )
    elif kind == "text":
        # `conversation` holds the text itself, `extendedTextMessage` has it in `text`.
        fields["text"] = text or as_str(content) or as_str(body.get("text"))
    elif kind == "location":
        location = payload.get("location") if isinstance(payload.get("location"), Mapping) else {}
        fields["latitude"] = as_float(location.get("latitude", body.get("degreesLatitude", data.get("lat"))))
        fields["longitude"] = as_float(location.get("longitude", body.get("degreesLongitude", data.get("lng"))))
        # WEBJS puts the map thumbnail in `body`: only the place's own words are text.
        fields["text"] = as_str(location.get("description")) or place_text(body)
    elif kind == "contact":
        fields["text"] = as_str(body.get("displayName")) or _vcard_name(payload.get("vCards"))
    elif kind == "reaction":  # NOWEB before 2024 sent reactions as messages
        fields["text"] = as_str(body.get("text"))
        reacted = body.get("key")
        fields["quoted_id"] = _raw_id(reacted.get("id")) if isinstance(reacted, Mapping) else ""
    elif kind == "interactive":
        fields["text"] = text or interactive_text(body)
    else:
        fields["text"] = text
    return fields


def _vcard_name(vcards: Any) -> str:
    if not isinstance(vcards, list):
        return ""
    for card in vcards:
        for line in as_str(card).splitlines():
            if line.upper().startswith("FN:") or line.upper().startswith("FN;"):
                return line.split(":", 1)[1].strip()
    return ""


def _quoted_id(payload: Mapping[str, Any], body: Any, data: Mapping[str, Any]) -> str:
    reply_to = payload.get("replyTo")
    if isinstance(reply_to, Mapping) and (quoted := _raw_id(reply_to.get("id"))):
        return quoted
    context = body.get("contextInfo") if isinstance(body, Mapping) else None
    if isinstance(context, Mapping):
        return as_str(context.get("stanzaId")) or as_str(context.get("stanzaID"))
    return as_str(data.get("quotedStanzaID"))


def _ack(payload: Mapping[str, Any]) -> int | None:
    ack = payload.get("ack")
    if isinstance(ack, int) and not isinstance(ack, bool) and -1 <= ack <= 4:
        return ack
    name = payload.get("ackName")
    return ACK_NAMES.get(name.upper()) if isinstance(name, str) else None
