"""Meta WhatsApp Business Cloud API adapter (the official API, graph.facebook.com).

Webhook facts (see the reference notes on the Cloud API and Meta's webhook reference pages):

- Meta verifies the callback with `GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`
  and expects the raw challenge back; every POST is signed with
  `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>`. The app secret is the
  gateway's webhook secret.
- One POST may batch several `entry[].changes[]`, possibly for different phone numbers of the same
  app: `split` yields one part per change, routed by `value.metadata.phone_number_id` (our
  `Chip.instance_name`). WABA-level fields (template status, account updates…) carry no phone
  number id: they are routed by the signature alone and ignored.
- `messages[].timestamp` and `statuses[].timestamp` are strings of epoch seconds.
- Since 2026 a user may be known only by a business-scoped user id (BSUID): `contacts[].user_id`
  / `messages[].from_user_id`, with `wa_id` / `from` empty or absent; statuses add
  `recipient_user_id`. To send to a BSUID, the request carries `recipient` instead of `to`.
- Statuses are not ordered and "delivered" is skipped when a message is delivered and read at
  once: the domain's forward-only ranks handle `sent → read`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from integrations.phones import normalize_phone
from integrations.providers.base import (
    ChipAddress,
    Contact,
    Event,
    IdentityLink,
    Ignored,
    InboundMessage,
    MediaFile,
    NotSupported,
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

SIGNATURE_HEADER = "X-Hub-Signature-256"
SIGNATURE_PREFIX = "sha256="

STATUS_MAP = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "played": "played",  # voice messages listened to
    "failed": "failed",
}

# Meta message `type` → our kind, for the types whose content object is a media file.
MEDIA_KINDS = {
    "image": "image",
    "audio": "audio",
    "video": "video",
    "document": "document",
    "sticker": "sticker",
}
# Message types that are not customer content (the user opened the chat, pressed a CTA…).
IGNORED_MESSAGE_TYPES = frozenset({"request_welcome", "ephemeral", "revoke"})

# Graph error codes that mean "slow down", not "this request is wrong": worth retrying later.
RATE_LIMIT_CODES = frozenset({130429, 131056})
OUTSIDE_WINDOW_CODE = 131047
OUTSIDE_WINDOW_MESSAGE = "outside the 24-hour customer service window: only templates may be sent"

OUTBOUND_MEDIA_KINDS = frozenset({"image", "document", "audio", "video"})
CAPTIONED_KINDS = frozenset({"image", "video", "document"})  # audio takes no caption


class CloudApiProvider(Provider):
    kind = "cloudapi"
    webhook_endpoint = "cloudapi"
    webhook_path_secret = False
    webhook_handshake = True
    service_window = timedelta(hours=24)

    # --- inbound ---------------------------------------------------------------------------------

    @classmethod
    def split(cls, payload: Mapping[str, Any]) -> list[tuple[str | None, Mapping[str, Any]]]:
        """One part per `entry[].changes[]`, each a one-change body keyed by its phone number id."""
        obj = payload.get("object")
        entries = payload.get("entry")
        if not isinstance(obj, str) or not obj or not isinstance(entries, list):
            raise WebhookRejected(400, "body needs 'object' and an 'entry' list (a Meta webhook)")
        parts: list[tuple[str | None, Mapping[str, Any]]] = []
        for entry in entries:
            if not isinstance(entry, Mapping) or not isinstance(entry.get("changes"), list):
                raise WebhookRejected(400, "each entry needs a 'changes' list")
            for change in entry["changes"]:
                if not isinstance(change, Mapping) or not isinstance(change.get("value"), Mapping):
                    raise WebhookRejected(400, "each change needs a 'value' object")
                part = {"object": obj, "entry": [{"id": entry.get("id"), "changes": [change]}]}
                parts.append((_change_route_key(change), part))
        if not parts:
            raise WebhookRejected(400, "body has no changes")
        return parts

    @classmethod
    def route_key(cls, payload: Mapping[str, Any]) -> str | None:
        return cls.split(payload)[0][0]

    @classmethod
    def handshake(cls, query: Mapping[str, str], verify_token: str) -> str | None:
        mode = query.get("hub.mode")
        token = query.get("hub.verify_token")
        challenge = query.get("hub.challenge")
        if mode != "subscribe" or not verify_token or not isinstance(token, str) or not isinstance(challenge, str):
            return None
        if not hmac.compare_digest(token.encode(), verify_token.encode()):
            return None
        return challenge

    def authenticate(self, request: WebhookRequest) -> bool:
        secret = self.config.webhook_secret
        if not secret:
            return False  # fail closed: a gateway without an app secret accepts nothing
        signature = _header(request.headers, SIGNATURE_HEADER).strip()
        if not signature.lower().startswith(SIGNATURE_PREFIX):
            return False
        expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(signature[len(SIGNATURE_PREFIX) :].lower().encode(), expected.encode())

    def parse(self, payload: Mapping[str, Any]) -> list[Event]:
        events: list[Event] = []
        for _route_key, part in self.split(payload):
            for change in part["entry"][0]["changes"]:
                events.extend(_parse_change(change))
        return events

    # --- outbound ----------------------------------------------------------------------------------

    def send_text(self, chip: ChipAddress, to: Contact, text: str) -> SendResult:
        body = _addressed(to) | {"type": "text", "text": {"preview_url": False, "body": text}}
        return self._send(chip, body)

    def send_media(self, chip: ChipAddress, to: Contact, media: OutboundMedia) -> SendResult:
        if media.kind not in OUTBOUND_MEDIA_KINDS:
            raise ProviderError(f"the Cloud API cannot send media of kind {media.kind!r}", permanent=True)
        content: dict[str, Any] = {"link": media.url}
        if media.caption and media.kind in CAPTIONED_KINDS:
            content["caption"] = media.caption
        if media.file_name and media.kind == "document":
            content["filename"] = media.file_name
        body = _addressed(to) | {"type": media.kind, media.kind: content}
        return self._send(chip, body)

    def send_typing(self, chip: ChipAddress, to: Contact, duration_ms: int) -> None:
        # Meta's typing indicator is a flag on the mark-as-read call: it needs the id of the
        # customer's message being answered, which this hook is not given (and it would also mark
        # the message read). There is no contact-level "typing…" in the Cloud API.
        raise NotSupported(
            "the Cloud API shows 'typing…' only through mark-as-read of a received message id, "
            "which send_typing does not receive"
        )

    def mark_read(self, chip: ChipAddress, to: Contact, provider_message_ids: list[str]) -> None:
        ids = [message_id for message_id in provider_message_ids if message_id]
        if not ids:
            return
        # Marking a message read also marks every earlier message of the chat read: one call.
        self._request(
            "POST",
            _messages_path(chip),
            headers=self._auth_headers(),
            json={"messaging_product": "whatsapp", "status": "read", "message_id": ids[-1]},
        )

    def download_media(self, chip: ChipAddress, media: StoredMedia) -> MediaFile:
        """Two steps: `GET /{media-id}` gives a short-lived URL, fetched with the same bearer token."""
        url = media.media_url
        mime_type = media.mime_type
        if media.media_id:
            info = _json(self._request("GET", f"/{quote(media.media_id, safe='')}", headers=self._auth_headers()))
            url = as_str(info.get("url"))
            mime_type = as_str(info.get("mime_type")) or mime_type
        if not url:
            raise ProviderError("the Cloud API gave no URL for this media", permanent=True)
        if not self._may_send_token_to(url):
            raise ProviderError("refusing to send the access token to a non-HTTPS media URL", permanent=True)
        response = self._request("GET", url, headers=self._auth_headers())
        content_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip()
        return MediaFile(content=response.content, mime_type=mime_type or content_type, file_name=media.file_name)

    # --- helpers ---------------------------------------------------------------------------------

    def _send(self, chip: ChipAddress, body: dict[str, Any]) -> SendResult:
        response = self._request("POST", _messages_path(chip), headers=self._auth_headers(), json=body)
        return SendResult(provider_message_id=_sent_message_id(response))

    def _error_for(self, response) -> ProviderError | None:
        """Meta's error codes refine the status: rate limits retry, the 24 h window never will."""
        code = _graph_error_code(response)
        if code in RATE_LIMIT_CODES:
            return ProviderError(
                f"Meta rate limit (error {code}), retry later", permanent=False, status_code=response.status_code
            )
        if code == OUTSIDE_WINDOW_CODE:
            return ProviderError(
                f"{OUTSIDE_WINDOW_MESSAGE} (Meta error {code})", permanent=True, status_code=response.status_code
            )
        return None

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.api_key}"}

    def _may_send_token_to(self, url: str) -> bool:
        target = urlsplit(url)
        if not target.scheme:  # a path relative to the Graph base URL
            return True
        base = urlsplit(self.config.base_url)
        return target.scheme == "https" or (target.scheme, target.netloc) == (base.scheme, base.netloc)


# --- webhook parsing ----------------------------------------------------------------------------------


def _change_route_key(change: Mapping[str, Any]) -> str | None:
    value = change["value"]
    metadata = value.get("metadata")
    phone_number_id = metadata.get("phone_number_id") if isinstance(metadata, Mapping) else None
    if isinstance(phone_number_id, str) and phone_number_id:
        return phone_number_id
    if change.get("field") == "messages" or any(key in value for key in ("messages", "statuses")):
        raise WebhookRejected(400, "messages change has no 'metadata.phone_number_id'")
    # WABA-level notifications (template status, account updates…) name no phone number.
    return None


def _parse_change(change: Mapping[str, Any]) -> list[Event]:
    field = change.get("field")
    value = change["value"]
    if field != "messages":
        return [Ignored(f"field {field} is not used")]
    contacts = _list(value.get("contacts"), "contacts")
    events: list[Event] = []
    for error in _list(value.get("errors"), "errors"):
        events.append(Ignored(f"out-of-band error {_error_text(error)}"))
    for message in _list(value.get("messages"), "messages"):
        events.extend(_parse_message(message, contacts))
    for status in _list(value.get("statuses"), "statuses"):
        events.extend(_parse_status(status, contacts))
    return events or [Ignored("messages change without messages, statuses or errors")]


def _parse_message(message: Any, contacts: list[Any]) -> list[Event]:
    if not isinstance(message, Mapping):
        raise WebhookRejected(400, "each message must be an object")
    message_id = message.get("id")
    if not isinstance(message_id, str) or not message_id:
        raise WebhookRejected(400, "message has no 'id'")
    if message.get("group_id"):
        return [Ignored("group message")]
    message_type = as_str(message.get("type"))
    if message_type == "system":
        return [_parse_system(message)]
    if message_type in IGNORED_MESSAGE_TYPES:
        return [Ignored(f"message type {message_type} is not customer content")]

    contact = _sender(message, contacts)
    if not contact.known:
        raise WebhookRejected(400, "message has neither 'from' nor 'from_user_id'")
    fields = _content_fields(message_type, message.get(message_type))
    quoted_id = fields.pop("quoted_id", "")
    context = message.get("context")
    if not quoted_id and isinstance(context, Mapping):
        quoted_id = as_str(context.get("id"))
    return [
        InboundMessage(
            provider_message_id=message_id,
            contact=contact,
            from_me=False,
            quoted_id=quoted_id,
            timestamp=epoch_datetime(message.get("timestamp")),
            raw=message,
            **fields,
        )
    ]


def _content_fields(message_type: str, raw_body: Any) -> dict[str, Any]:
    body = raw_body if isinstance(raw_body, Mapping) else {}
    if message_type == "text":
        return {"kind": "text", "text": as_str(body.get("body"))}
    if message_type in MEDIA_KINDS:
        return {
            "kind": MEDIA_KINDS[message_type],
            "media_id": as_str(body.get("id")),
            "media_url": as_str(body.get("url")),
            "mime_type": as_str(body.get("mime_type")),
            "caption": as_str(body.get("caption")),
            "file_name": as_str(body.get("filename")),
        }
    if message_type == "location":
        return {
            "kind": "location",
            "latitude": as_float(body.get("latitude")),
            "longitude": as_float(body.get("longitude")),
            "text": " ".join(filter(None, [as_str(body.get("name")), as_str(body.get("address"))])),
        }
    if message_type == "reaction":
        # An empty emoji removes an earlier reaction.
        return {"kind": "reaction", "text": as_str(body.get("emoji")), "quoted_id": as_str(body.get("message_id"))}
    if message_type == "interactive":
        reply_type = as_str(body.get("type"))
        reply = body.get(reply_type)
        reply = reply if isinstance(reply, Mapping) else {}
        text = as_str(reply.get("title")) or as_str(reply.get("id")) or as_str(reply.get("body"))
        return {"kind": "interactive", "text": text}
    if message_type == "button":  # quick-reply button of a template
        return {"kind": "interactive", "text": as_str(body.get("text")) or as_str(body.get("payload"))}
    if message_type == "contacts":  # the content is a list, not an object
        return {"kind": "contact", "text": _shared_contacts_text(raw_body)}
    return {"kind": "unknown"}  # unsupported, unknown, order… — still a message from the customer


def _shared_contacts_text(cards: Any) -> str:
    """'Pablo Morales +16505551234' for each shared contact card."""
    texts = []
    for card in cards if isinstance(cards, list) else []:
        if not isinstance(card, Mapping):
            continue
        name = card.get("name") if isinstance(card.get("name"), Mapping) else {}
        display = as_str(name.get("formatted_name")) or " ".join(
            filter(None, [as_str(name.get("first_name")), as_str(name.get("last_name"))])
        )
        phones = []
        for phone in card.get("phones") if isinstance(card.get("phones"), list) else []:
            if isinstance(phone, Mapping):
                phones.append(_phone(phone.get("wa_id")) or as_str(phone.get("phone")))
        texts.append(" ".join(filter(None, [display, *phones])))
    return "; ".join(filter(None, texts))


def _parse_system(message: Mapping[str, Any]) -> Event:
    system = message.get("system")
    system = system if isinstance(system, Mapping) else {}
    system_type = as_str(system.get("type")) or "unknown"
    if system_type == "user_changed_user_id":
        phone = _phone(system.get("wa_id"))
        bsuid = as_str(system.get("user_id")) or None
        if phone and bsuid:
            return IdentityLink(Contact(phone=phone, bsuid=bsuid))
    return Ignored(f"system message {system_type}")


def _sender(message: Mapping[str, Any], contacts: list[Any]) -> Contact:
    phone_digits = as_str(message.get("from"))
    bsuid = as_str(message.get("from_user_id"))
    profile_contact = _matching_contact(contacts, phone_digits, bsuid)
    phone_digits = phone_digits or as_str(profile_contact.get("wa_id"))
    bsuid = bsuid or as_str(profile_contact.get("user_id"))
    return Contact(phone=_phone(phone_digits), bsuid=bsuid or None, push_name=_profile_name(profile_contact))


def _matching_contact(contacts: list[Any], phone_digits: str, bsuid: str) -> Mapping[str, Any]:
    """The `contacts[]` entry about this person (by wa_id or BSUID), or the only one there is."""
    candidates = [contact for contact in contacts if isinstance(contact, Mapping)]
    for contact in candidates:
        if (phone_digits and contact.get("wa_id") == phone_digits) or (bsuid and contact.get("user_id") == bsuid):
            return contact
    return candidates[0] if len(candidates) == 1 else {}


def _profile_name(contact: Mapping[str, Any]) -> str:
    profile = contact.get("profile")
    if not isinstance(profile, Mapping):
        return ""
    return as_str(profile.get("name")) or as_str(profile.get("username"))


def _parse_status(status: Any, contacts: list[Any]) -> list[Event]:
    if not isinstance(status, Mapping):
        raise WebhookRejected(400, "each status must be an object")
    message_id = status.get("id")
    if not isinstance(message_id, str) or not message_id:
        raise WebhookRejected(400, "status has no 'id'")
    name = as_str(status.get("status"))
    mapped = STATUS_MAP.get(name)
    if mapped is None:
        return [Ignored(f"status {name or 'without a name'} is not a delivery status")]
    error = ""
    if mapped == "failed":
        errors = [_error_text(item) for item in _list(status.get("errors"), "errors")]
        error = "; ".join(filter(None, errors)) or "failed"
    phone_digits = as_str(status.get("recipient_id"))
    bsuid = as_str(status.get("recipient_user_id"))
    contact = _matching_contact(contacts, phone_digits, bsuid)
    recipient = Contact(
        phone=_phone(phone_digits or as_str(contact.get("wa_id"))),
        bsuid=(bsuid or as_str(contact.get("user_id"))) or None,
        push_name=_profile_name(contact),
    )
    return [
        StatusUpdate(
            provider_message_id=message_id, status=mapped, error=error, recipient=recipient if recipient.known else None
        )
    ]


def _error_text(error: Any) -> str:
    """'131047 Re-engagement message: Message failed to send because…' from a Meta error object."""
    if not isinstance(error, Mapping):
        return ""
    code = error.get("code")
    title = as_str(error.get("title")) or as_str(error.get("message"))
    data = error.get("error_data")
    details = as_str(data.get("details")) if isinstance(data, Mapping) else ""
    head = " ".join(str(part) for part in (code, title) if part not in (None, ""))
    return f"{head}: {details}" if details else head


# --- outbound helpers -----------------------------------------------------------------------------


def _messages_path(chip: ChipAddress) -> str:
    return f"/{quote(chip.instance_name, safe='')}/messages"


def _addressed(to: Contact) -> dict[str, Any]:
    """The envelope of a send: `to` a phone number, or `recipient` for a BSUID-only contact."""
    body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual"}
    if to.phone:
        body["to"] = to.phone.lstrip("+")
    elif to.bsuid:
        # Meta's BSUID page: set `recipient` to the BSUID and omit `to` (`to` would win if present).
        body["recipient"] = to.bsuid
    else:
        raise ProviderError("contact has neither a phone number nor a BSUID the Cloud API can send to", permanent=True)
    return body


def _sent_message_id(response) -> str | None:
    messages = _json(response).get("messages")
    first = messages[0] if isinstance(messages, list) and messages else None
    message_id = first.get("id") if isinstance(first, Mapping) else None
    return message_id if isinstance(message_id, str) and message_id else None


def _graph_error_code(response) -> int | None:
    """Meta's error code: {"error": {"code": 131047, "message": "(#131047) …", ...}}."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return None
    if not isinstance(error, Mapping):
        return None
    code = error.get("code")
    if isinstance(code, int) and not isinstance(code, bool):
        return code
    match = re.search(r"\(#(\d+)\)", str(error.get("message", "")))
    return int(match.group(1)) if match else None


# --- small helpers ---------------------------------------------------------------------------------


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), "")
    return value if isinstance(value, str) else ""


def _json(response) -> Mapping[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, Mapping) else {}


def _list(value: Any, name: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise WebhookRejected(400, f"'{name}' must be a list")
    return value


def _phone(digits: Any) -> str | None:
    """E.164 from a Meta `wa_id` / `from` / `recipient_id`: always the full number, without '+'."""
    if not isinstance(digits, str) or not digits.strip():
        return None
    text = digits.strip()
    return normalize_phone(text if text.startswith("+") else "+" + text)
