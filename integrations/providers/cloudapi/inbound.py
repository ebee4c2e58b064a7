"""Cloud API webhook parsing: the `messages` change of each part, its messages and statuses.

Webhook facts (see the reference notes on the Cloud API and Meta's webhook reference pages):

- `messages[].timestamp` and `statuses[].timestamp` are strings of epoch seconds.
- Since 2026 a user may be known only by a business-scoped user id (BSUID): `contacts[].user_id`
  / `messages[].from_user_id`, with `wa_id` / `from` empty or absent; statuses add
  `recipient_user_id`.
- Statuses are not ordered and "delivered" is skipped when a message is delivered and read at
  once: the domain's forward-only ranks handle `sent → read`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations.phones import normalize_phone
from integrations.providers.base import (
    Contact,
    Event,
    IdentityLink,
    Ignored,
    InboundMessage,
    MessageEdited,
    MessageRevoked,
    StatusUpdate,
    WebhookRejected,
)
from integrations.providers.values import as_float, as_str, as_text, epoch_datetime

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
IGNORED_MESSAGE_TYPES = frozenset({"request_welcome", "ephemeral"})


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
    if field == "smb_message_echoes":
        contacts = _list(value.get("contacts"), "contacts")
        echoes = [_parse_echo(echo, contacts) for echo in _list(value.get("message_echoes"), "message_echoes")]
        return echoes or [Ignored("message echoes change without echoes")]
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
    if message_type in ("edit", "revoke"):
        return [_edit_or_revoke(message_type, message.get(message_type))]

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
    if message_type == "order":  # a cart sent from the catalog: what the agent reads of it
        return {"kind": "unknown", "text": _order_text(body)}
    return {"kind": "unknown"}  # unsupported, unknown… — still a message from the customer


def _order_text(order: Mapping[str, Any]) -> str:
    """'[pedido] 3x HAMBURGER (30 ILS), 2x SODA (10 ILS)', and the customer's note if any."""
    items = []
    for item in order.get("product_items") if isinstance(order.get("product_items"), list) else []:
        if isinstance(item, Mapping):
            price = " ".join(filter(None, [as_text(item.get("item_price")), as_str(item.get("currency"))]))
            name = f"{as_text(item.get('quantity')) or '1'}x {as_str(item.get('product_retailer_id'))}"
            items.append(f"{name} ({price})" if price else name)
    note = as_str(order.get("text"))
    return " ".join(filter(None, ["[pedido]", ", ".join(items), f"- {note}" if note else ""]))


def _edit_or_revoke(message_type: str, body: Any) -> Event:
    """The customer edited or deleted an earlier message (numbers also used in the WhatsApp Business
    app): it names the original by `original_message_id`. Neither is a new message nor a status."""
    body = body if isinstance(body, Mapping) else {}
    original = as_str(body.get("original_message_id"))
    if not original:
        return Ignored(f"{message_type} without 'original_message_id'")
    if message_type == "revoke":
        return MessageRevoked(provider_message_id=original)
    edited = body.get("message") if isinstance(body.get("message"), Mapping) else {}
    fields = _content_fields(as_str(edited.get("type")), edited.get(as_str(edited.get("type"))))
    return MessageEdited(provider_message_id=original, text=fields.get("text") or fields.get("caption") or "")


def _parse_echo(echo: Any, contacts: list[Any]) -> Event:
    """A message the business typed in the WhatsApp Business app on a number also on the Cloud API
    (`smb_message_echoes`): ours, from the phone, to `to` / `to_user_id`."""
    if not isinstance(echo, Mapping):
        raise WebhookRejected(400, "each message echo must be an object")
    message_id = as_str(echo.get("id"))
    if not message_id:
        raise WebhookRejected(400, "message echo has no 'id'")
    contact = _person(contacts, as_str(echo.get("to")), as_str(echo.get("to_user_id")))
    if not contact.known:
        return Ignored("message echo names no recipient")
    message_type = as_str(echo.get("type"))
    fields = _content_fields(message_type, echo.get(message_type))
    fields.pop("quoted_id", None)
    return InboundMessage(
        provider_message_id=message_id,
        contact=contact,
        from_me=True,
        timestamp=epoch_datetime(echo.get("timestamp")),
        raw=echo,
        **fields,
    )


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
    return _person(contacts, as_str(message.get("from")), as_str(message.get("from_user_id")))


def _person(contacts: list[Any], phone_digits: str, bsuid: str) -> Contact:
    """Who a message, status or echo is about: its own wa_id / BSUID, completed from `contacts[]`."""
    profile_contact = _matching_contact(contacts, phone_digits, bsuid)
    return Contact(
        phone=_phone(phone_digits or as_str(profile_contact.get("wa_id"))),
        bsuid=(bsuid or as_str(profile_contact.get("user_id"))) or None,
        push_name=_profile_name(profile_contact),
    )


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
    if status.get("recipient_type") == "group":
        return [Ignored("status of a group message")]  # group messages are not ours to track either
    name = as_str(status.get("status"))
    mapped = STATUS_MAP.get(name)
    if mapped is None:
        return [Ignored(f"status {name or 'without a name'} is not a delivery status")]
    error = ""
    if mapped == "failed":
        errors = [_error_text(item) for item in _list(status.get("errors"), "errors")]
        error = "; ".join(filter(None, errors)) or "failed"
    recipient = _person(contacts, as_str(status.get("recipient_id")), as_str(status.get("recipient_user_id")))
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
