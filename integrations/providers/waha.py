"""WAHA (devlikeapro WhatsApp HTTP API) adapter, for its three engines (WEBJS, NOWEB, GOWS).

Webhook facts (devlikeapro/waha-docs `content/docs/how-to/events/index.md`, waha source): every body
is an envelope `{"event", "session", "me", "payload", "engine", ...}`; the session name is our
Chip.instance_name. With `hmac.key` set, WAHA signs the raw body: `X-Webhook-Hmac` is the hex
HMAC-SHA512 of it (`X-Webhook-Hmac-Algorithm: sha512`).

Message ids: WAHA serializes them as `{fromMe}_{chatId}_{id}[_{participant}]`, and the chat part
changes with the addressing (`…@c.us` or `…@lid`) while the trailing WhatsApp id does not. Send
answers carry only the bare id on NOWEB (`key.id`), and `message.edited` / `message.revoked` name
the target by its bare id. So the provider message id we store is the bare WhatsApp id: `message`
and `message.any` for one message, its acks, its edit and the send answer all meet on it.

Who the contact is: the chat is the `chatId` part of the message id (WEBJS puts our own number in
`from` for our messages; NOWEB/GOWS put the chat there). A `…@lid` chat hides the phone; NOWEB (since
2025.9) adds the phone in `_data.key.remoteJidAlt`, GOWS in `_data.Info.SenderAlt`/`RecipientAlt`.
"""

from __future__ import annotations

import hashlib
import hmac
import mimetypes
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from integrations.phones import is_lid, is_non_contact, is_person_jid, jid_user, normalize_phone
from integrations.providers.baileys import (
    METADATA_KEYS,
    SYSTEM_KEYS,
    content_kind,
    document_body,
    interactive_text,
    place_text,
)
from integrations.providers.base import (
    ChipAddress,
    ConnectionUpdate,
    Contact,
    Event,
    Ignored,
    InboundMessage,
    MediaFile,
    MessageEdited,
    MessageRevoked,
    OutboundMedia,
    Provider,
    ProviderError,
    SendResult,
    StatusUpdate,
    StoredMedia,
    WebhookRejected,
    WebhookRequest,
)
from integrations.providers.values import as_float, as_str, epoch_datetime

SIGNATURE_HEADER = "X-Webhook-Hmac"
ALGORITHM_HEADER = "X-Webhook-Hmac-Algorithm"

# WAMessageAck: -1 ERROR, 0 PENDING, 1 SERVER, 2 DEVICE, 3 READ, 4 PLAYED. PENDING is no news.
ACK_STATUS = {-1: "failed", 1: "sent", 2: "delivered", 3: "read", 4: "played"}
ACK_NAMES = {"ERROR": -1, "PENDING": 0, "SERVER": 1, "DEVICE": 2, "READ": 3, "PLAYED": 4}

# WAHASessionStatus → chips.models.SessionState. FAILED: "authorization is likely required again
# or the device was disconnected" (docs) — the gateway stopped trying, the chip is not connected.
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

# How long send_typing keeps "typing…" up at most (the caller's duration is already capped).
MAX_TYPING_SECONDS = 15.0
OPUS_MIME = "audio/ogg; codecs=opus"
DEFAULT_MIME = {"image": "image/jpeg", "video": "video/mp4", "audio": OPUS_MIME, "document": "application/octet-stream"}
SEND_PATHS = {
    "image": "/api/sendImage",
    "document": "/api/sendFile",
    "video": "/api/sendVideo",
    "audio": "/api/sendVoice",
}


class WahaProvider(Provider):
    kind = "waha"
    webhook_endpoint = "waha"
    webhook_path_secret = False
    webhook_handshake = False

    # --- inbound ---------------------------------------------------------------------------------

    @classmethod
    def route_key(cls, payload: Mapping[str, Any]) -> str:
        session = payload.get("session")
        if not isinstance(session, str) or not session.strip():
            raise WebhookRejected(400, "body has no 'session' naming the WAHA session")
        return session

    def authenticate(self, request: WebhookRequest) -> bool:
        secret = self.config.webhook_secret
        if not secret:
            return False  # fail closed: a gateway without a secret accepts nothing
        signature = _header(request.headers, SIGNATURE_HEADER).strip().lower()
        if not signature:
            return False
        algorithm = _header(request.headers, ALGORITHM_HEADER).strip().lower()
        if algorithm and algorithm != "sha512":
            return False
        expected = hmac.new(secret.encode(), request.body, hashlib.sha512).hexdigest()
        return hmac.compare_digest(expected.encode(), signature.encode())

    def parse(self, payload: Mapping[str, Any]) -> list[Event]:
        event = payload.get("event")
        if not isinstance(event, str) or not event:
            raise WebhookRejected(400, "body has no 'event'")
        handler = _EVENT_PARSERS.get(event)
        if handler is None:
            return [Ignored(f"event {event} is not used")]
        body = payload.get("payload")
        if not isinstance(body, Mapping):
            raise WebhookRejected(400, f"'{event}' event has no 'payload' object")
        return handler(body, _me_users(payload.get("me")), payload)

    # --- outbound ----------------------------------------------------------------------------------

    def send_text(self, chip: ChipAddress, to: Contact, text: str) -> SendResult:
        response = self._request(
            "POST",
            "/api/sendText",
            headers=self._auth_headers(),
            json={"session": chip.instance_name, "chatId": _chat_id(to), "text": text},
        )
        return SendResult(provider_message_id=_sent_message_id(response))

    def send_media(self, chip: ChipAddress, to: Contact, media: OutboundMedia) -> SendResult:
        path = SEND_PATHS.get(media.kind)
        if path is None:
            return super().send_media(chip, to, media)
        mime_type = media.mime_type or mimetypes.guess_type(urlsplit(media.url).path)[0] or DEFAULT_MIME[media.kind]
        file: dict[str, str] = {"url": media.url, "mimetype": mime_type}
        body: dict[str, Any] = {"session": chip.instance_name, "chatId": _chat_id(to), "file": file}
        if media.kind == "audio":
            # A voice note must be OGG/Opus; WAHA converts anything else when asked to.
            body["convert"] = not mime_type.replace(" ", "").lower().startswith("audio/ogg;codecs=opus")
        else:
            file["filename"] = media.file_name or _url_file_name(media.url)
            if media.caption:
                body["caption"] = media.caption
            if media.kind == "video":
                body["convert"] = False
        response = self._request("POST", path, headers=self._auth_headers(), json=body)
        return SendResult(provider_message_id=_sent_message_id(response))

    def send_typing(self, chip: ChipAddress, to: Contact, duration_ms: int) -> None:
        # startTyping is open-ended in WAHA: we hold it for the duration, then clear it.
        body = {"session": chip.instance_name, "chatId": _chat_id(to)}
        self._request("POST", "/api/startTyping", headers=self._auth_headers(), json=body)
        try:
            time.sleep(max(0.0, min(duration_ms / 1000, MAX_TYPING_SECONDS)))
        finally:
            self._request("POST", "/api/stopTyping", headers=self._auth_headers(), json=body)

    def mark_read(self, chip: ChipAddress, to: Contact, provider_message_ids: list[str]) -> None:
        chat_id = _chat_id(to)
        body: dict[str, Any] = {"session": chip.instance_name, "chatId": chat_id}
        if provider_message_ids:
            # NOWEB/GOWS read exactly these (serialized ids); WEBJS reads the whole chat.
            body["messageIds"] = [_serialized_incoming_id(chat_id, message_id) for message_id in provider_message_ids]
        self._request("POST", "/api/sendSeen", headers=self._auth_headers(), json=body)

    def download_media(self, chip: ChipAddress, media: StoredMedia) -> MediaFile:
        url = media.media_url or _media_url(media.raw)
        if not url:
            raise ProviderError("WAHA did not store this message's file (media is null)", permanent=True)
        target, headers = self._media_target(url)
        response = self._request("GET", target, headers=headers)
        content_type = response.headers.get("content-type", "").split(";")[0].strip()
        mime_type = media.mime_type or ("" if content_type in ("", "application/json") else content_type)
        return MediaFile(content=response.content, mime_type=mime_type, file_name=media.file_name)

    def resolve_lid(self, chip: ChipAddress, lid: str) -> str | None:
        path = f"/api/{quote(chip.instance_name, safe='')}/lids/{quote(_lid_jid(lid), safe='')}"
        response = self._request("GET", path, headers=self._auth_headers())
        try:
            body = response.json()
        except ValueError:
            return None
        pn = body.get("pn") if isinstance(body, Mapping) else None
        if not isinstance(pn, str) or not pn or is_lid(pn):
            return None
        return _phone(pn)

    def _auth_headers(self) -> dict[str, str]:
        return {"X-Api-Key": self.config.api_key}

    def _media_target(self, url: str) -> tuple[str, dict[str, str]]:
        """Where to GET a media URL, and whether our API key may go with it.

        WAHA builds `media.url` from WAHA_BASE_URL (often `http://localhost:3000`), so the files it
        serves (`/api/files/...`) are fetched from our configured gateway. Another host (S3 storage)
        never sees the API key.
        """
        parts = urlsplit(url)
        marker = parts.path.find("/api/files/")
        if marker >= 0 or not parts.netloc:
            path = parts.path[marker:] if marker >= 0 else parts.path
            return path + (f"?{parts.query}" if parts.query else ""), self._auth_headers()
        base = urlsplit(self.config.base_url)
        if (parts.scheme, parts.netloc) == (base.scheme, base.netloc):
            return url, self._auth_headers()
        return url, {}


# --- webhook parsing ----------------------------------------------------------------------------------


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
    return [MessageEdited(provider_message_id=edited, text=as_str(payload.get("body")))]


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


class _MessageKey:
    """The parts of a WAHA serialized message id `{fromMe}_{chatId}_{id}[_{participant}]`."""

    __slots__ = ("chat", "from_me", "participant", "raw_id")

    def __init__(self, raw_id: str, chat: str = "", from_me: bool | None = None, participant: str = ""):
        self.raw_id = raw_id
        self.chat = chat
        self.from_me = from_me
        self.participant = participant


def _split_message_id(message_id: str) -> _MessageKey:
    parts = message_id.split("_")
    if len(parts) in (3, 4) and parts[0] in ("true", "false") and "@" in parts[1] and parts[2]:
        return _MessageKey(parts[2], parts[1], parts[0] == "true", parts[3] if len(parts) == 4 else "")
    if len(parts) in (2, 3) and "@" in parts[0] and parts[1] and "@" not in parts[1]:
        # Seen with the fromMe part missing (`{chatId}_{id}[_{participant}]`).
        return _MessageKey(parts[1], parts[0], None, parts[2] if len(parts) == 3 else "")
    return _MessageKey(message_id)


def _raw_id(value: Any) -> str:
    """The bare WhatsApp id of a serialized or bare message id ('' when there is none)."""
    text = _id_string(value)
    return _split_message_id(text).raw_id if text else ""


def _id_string(value: Any) -> str:
    if isinstance(value, Mapping):  # whatsapp-web.js MessageId {fromMe, remote, id, _serialized}
        value = value.get("_serialized") or value.get("id")
    return value.strip() if isinstance(value, str) else ""


def _message_id(payload: Mapping[str, Any]) -> str:
    message_id = _id_string(payload.get("id"))
    if not message_id:
        raise WebhookRejected(400, "payload has no message 'id'")
    return message_id


def _from_me(payload: Mapping[str, Any], key: _MessageKey) -> bool:
    value = payload.get("fromMe")
    if isinstance(value, bool):
        return value
    return bool(key.from_me)


def _jid(value: Any) -> str:
    if isinstance(value, Mapping):  # WEBJS Wid {server, user, _serialized}
        value = value.get("_serialized")
    return value if isinstance(value, str) and "@" in value else ""


def _chat(payload: Mapping[str, Any], key: _MessageKey, from_me: bool) -> str | None:
    """The one-to-one chat: the id's chatId, else `to` for our own messages (WEBJS) or `from`."""
    if key.chat:
        return key.chat
    candidates = (payload.get("to"), payload.get("from")) if from_me else (payload.get("from"),)
    for candidate in candidates:
        if jid := _jid(candidate):
            return jid
    return None


def _one_to_one(chat: str, payload: Mapping[str, Any], key: _MessageKey) -> bool:
    if key.participant or is_non_contact(chat) or not (is_lid(chat) or is_person_jid(chat)):
        return False
    return not any(is_non_contact(_jid(payload.get(field))) for field in ("from", "to"))


def _me_users(me: Any) -> frozenset[str]:
    if not isinstance(me, Mapping):
        return frozenset()
    return frozenset(jid_user(value) for value in (me.get("id"), me.get("lid")) if isinstance(value, str) and value)


def _contact(
    chat: str, payload: Mapping[str, Any], data: Mapping[str, Any], from_me: bool, me: frozenset[str]
) -> Contact:
    """Phone and LID of the other party, from the chat and the engine's alternate-address fields."""
    candidates: list[Any] = [chat]
    key = data.get("key")
    if isinstance(key, Mapping):  # NOWEB (Baileys): the chat's other address
        candidates += [key.get("remoteJidAlt"), key.get("senderPn"), key.get("senderLid")]
    info = data.get("Info")
    if isinstance(info, Mapping):  # GOWS (whatsmeow MessageSource)
        candidates += [info.get("RecipientAlt") if from_me else info.get("SenderAlt"), info.get("Chat")]
    phone = lid = None
    for candidate in candidates:
        jid = _jid(candidate)
        if not jid or jid_user(jid) in me:
            continue
        if is_lid(jid):
            lid = lid or jid_user(jid)
        elif is_person_jid(jid):
            phone = phone or _phone(jid)
    return Contact(phone=phone, lid=lid, push_name="" if from_me else _push_name(data))


def _phone(jid: str) -> str | None:
    # WhatsApp ids always carry the country code: read them as international numbers.
    return normalize_phone("+" + jid_user(jid))


def _push_name(data: Mapping[str, Any]) -> str:
    info = data.get("Info")
    candidates = [data.get("pushName"), data.get("notifyName")]
    if isinstance(info, Mapping):
        candidates.append(info.get("PushName"))
    return next((value.strip() for value in candidates if isinstance(value, str) and value.strip()), "")


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


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if isinstance(k, str) and k.lower() == lowered), "")
    return value if isinstance(value, str) else ""


# --- outbound helpers -----------------------------------------------------------------------------


def _chat_id(to: Contact) -> str:
    if to.phone:
        digits = "".join(ch for ch in to.phone if ch.isdigit())
        if digits:
            return f"{digits}@c.us"
    if to.lid:
        return _lid_jid(to.lid)
    raise ProviderError("contact has neither a phone nor a LID to send to", permanent=True)


def _lid_jid(lid: str) -> str:
    return lid if lid.endswith("@lid") else f"{jid_user(lid)}@lid"


def _serialized_incoming_id(chat_id: str, message_id: str) -> str:
    """WAHA's id of a message the contact sent us: `false_{chatId}_{id}` (already-serialized ids pass)."""
    return message_id if "_" in message_id else f"false_{chat_id}_{message_id}"


def _sent_message_id(response: httpx.Response) -> str | None:
    """The sent message's bare id from an engine-specific answer (WEBJS, NOWEB, GOWS), if any."""
    try:
        body = response.json()
    except ValueError:  # WEBJS 2025.6.5 answered 201 with an empty body
        return None
    if not isinstance(body, Mapping):
        return None
    data = body.get("_data") if isinstance(body.get("_data"), Mapping) else {}
    key = body.get("key") if isinstance(body.get("key"), Mapping) else {}
    data_key = data.get("key") if isinstance(data.get("key"), Mapping) else {}
    info = data.get("Info") if isinstance(data.get("Info"), Mapping) else {}
    for candidate in (body.get("id"), key.get("id"), data.get("id"), data_key.get("id"), info.get("ID")):
        if message_id := _raw_id(candidate):
            return message_id
    return None


def _media_url(raw: Mapping[str, Any] | None) -> str:
    if not isinstance(raw, Mapping):
        return ""
    media = raw.get("media")
    return (as_str(media.get("url")) if isinstance(media, Mapping) else "") or as_str(raw.get("mediaUrl"))


def _url_file_name(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[-1]
