"""The raw WhatsApp message content of Baileys, as three of our gateways hand it over.

Baileys (WhiskeySockets/Baileys) is the TypeScript library that speaks the WhatsApp Web protocol
for most self-hosted gateways. A message's content is its protobuf `proto.IMessage`, serialized to
JSON as one key per content type (`{"conversation": "oi"}`, `{"imageMessage": {"caption": ..,
"mimetype": ..}}`, ...) beside metadata keys such as `messageContextInfo`.

Evolution API posts that object as `data.message`, WAHA's NOWEB engine (Baileys underneath) as
`payload._data.message`, and the Whaticket relay forwards Whaticket's own Baileys message as
`message`. So what a content key means, and which fields hold the text, caption, file and place,
is one piece of knowledge, kept here; each adapter keeps its envelope, its wrappers and whatever
its gateway adds around the content.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations.providers.values import as_float, as_str

# Content key → our kind. Order matters only for messages carrying several content keys: without
# a named message type, the first key of this table that the content holds wins.
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
    # A business's own messages to us (templates, button and list menus): their words, as text.
    ("templateMessage", "text"),
    ("buttonsMessage", "text"),
    ("listMessage", "text"),
    ("interactiveMessage", "text"),
)
KIND_OF: Mapping[str, str] = dict(CONTENT_KINDS)
# Keys that travel beside the content and say nothing about the kind.
METADATA_KEYS = frozenset({"messageContextInfo", "contextInfo"})
# System messages (edits and revokes, key distribution, poll votes): not customer content. A contact's
# edit may also come end-to-end encrypted for the linked device (`secretEncryptedMessage`, naming the
# edited message in `targetMessageKey`): its new text cannot be read, and it is no new message.
SYSTEM_KEYS = frozenset(
    {"protocolMessage", "senderKeyDistributionMessage", "editedMessage", "pollUpdateMessage", "secretEncryptedMessage"}
)
# Envelopes around the real content (`{"<wrapper>": {"message": {...}}}`): disappearing, view-once,
# and documents with a caption.
WRAPPER_KEYS = (
    "ephemeralMessage",
    "viewOnceMessage",
    "viewOnceMessageV2",
    "viewOnceMessageV2Extension",
    "documentWithCaptionMessage",
)
ENCRYPTED_EDIT = "an encrypted edit of an earlier message: its new text cannot be read"


def encrypted_edit(content: Mapping[str, Any]) -> bool:
    """A contact's edit end-to-end encrypted for the linked device (see SYSTEM_KEYS)."""
    return isinstance(content.get("secretEncryptedMessage"), Mapping)


# ProtocolMessage.Type, as protobufjs' toJSON writes it (name) or a plain object holds it (number).
PROTOCOL_REVOKE = frozenset({"REVOKE", 0})
PROTOCOL_EDIT = frozenset({"MESSAGE_EDIT", 14})

# Why a Baileys socket closed (`lastDisconnect.error.output.statusCode`, Evolution's `statusReason`).
# Baileys' DisconnectReason (src/Types/index.ts, WhiskeySockets/Baileys@78e7e4e) names its own codes;
# the ones WhatsApp sends in its `failure` stanza (socket.ts `CB:failure`: statusCode = the stanza's
# `reason`) are named by whatsmeow's ConnectFailureReason (types/events/events.go, tulir/whatsmeow@33cfac5):
#   401 loggedOut    "logged out from another device": what a ban looks like from the linked device, but
#                    also an unlink on the phone (Baileys #204: "banned, unless you manually log out").
#                    Treated as a ban: WhatsApp does not tell the two apart, and carrying on sending
#                    from a banned number is the costlier mistake. Our own logout happens only for
#                    chips being cancelled, which no longer change status.                 -> ban
#   402              TempBanned, "account temporarily banned".                                 -> ban
#   403 forbidden    LOCKED in WhatsApp Web's code, "primary device was logged out"; Baileys PR #281
#                    added it for "connection closed by banned or blocked number".             -> ban
#   406              UnknownLogout, BANNED in WhatsApp Web's code.                             -> ban
# Not bans: 408 timedOut/connectionLost, 428 connectionClosed, 440 connectionReplaced, 515
# restartRequired (transient), 405 client outdated, 411 multideviceMismatch, 500 badSession, 503
# unavailableService (client or server trouble). Gateways reconnect after those on their own.
BAN_CLOSE_CODES = frozenset({401, 402, 403, 406})
BAN_CLOSE_REASONS = {
    401: "WhatsApp logged the number out: banned, or unlinked from the phone",
    402: "WhatsApp banned the account temporarily",
    403: "WhatsApp locked the account (forbidden): banned or blocked",
    406: "WhatsApp banned the account",
}


def content_kind(content: Mapping[str, Any], message_type: Any = None) -> tuple[str, Any]:
    """Our kind of a message content, and the body under its content key.

    `message_type` names the content key to read (Evolution's `messageType`, Baileys'
    getContentType) when the content holds it; otherwise the first key of CONTENT_KINDS present
    wins. ("unknown", {}) when the content holds no key we know.
    """
    if isinstance(message_type, str) and message_type in KIND_OF and message_type in content:
        return KIND_OF[message_type], content[message_type]
    for name, kind in CONTENT_KINDS:
        if name in content:
            return kind, content[name]
    return "unknown", {}


def content_fields(kind: str, body: Any) -> dict[str, Any]:
    """The InboundMessage fields (text, caption, file, place) a content body of `kind` carries."""
    if isinstance(body, str):  # `conversation` holds the text itself
        return {"text": body}
    if not isinstance(body, Mapping):
        return {}
    body = document_body(body)
    fields: dict[str, Any] = {
        "caption": as_str(body.get("caption")),
        "mime_type": as_str(body.get("mimetype")),
        "file_name": as_str(body.get("fileName")),
    }
    if kind == "text":
        fields["text"] = as_str(body.get("text")) or business_text(body)
    elif kind == "location":
        fields["latitude"] = as_float(body.get("degreesLatitude"))
        fields["longitude"] = as_float(body.get("degreesLongitude"))
        fields["text"] = place_text(body)
    elif kind == "reaction":
        fields["text"] = as_str(body.get("text"))
    elif kind == "interactive":
        fields["text"] = interactive_text(body)
    elif kind == "contact":
        # contactMessage is one card; contactsArrayMessage lists them in `contacts`.
        cards = body.get("contacts") if isinstance(body.get("contacts"), list) else [body]
        names = [as_str(card.get("displayName")) for card in cards if isinstance(card, Mapping)]
        fields["text"] = ", ".join(filter(None, names)) or as_str(body.get("displayName"))
    return fields


def document_body(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """The documentMessage inside a documentWithCaptionMessage body (`{"message": {...}}`); any
    other body as it is."""
    if "message" in body and isinstance(body["message"], Mapping):
        inner = body["message"].get("documentMessage")
        return inner if isinstance(inner, Mapping) else {}
    return body


def business_text(body: Mapping[str, Any]) -> str:
    """The words of a template, button menu, list or interactive message a business sent."""
    for template_key in ("hydratedTemplate", "hydratedFourRowTemplate", "fourRowTemplate"):
        template = body.get(template_key)
        if isinstance(template, Mapping):
            return as_str(template.get("hydratedContentText")) or _nested_text(template.get("content"))
    interactive = body.get("interactiveMessageTemplate")
    if isinstance(interactive, Mapping):
        body = interactive
    header = body.get("header")
    title = as_str(header.get("title")) if isinstance(header, Mapping) else ""
    words = as_str(body.get("contentText")) or as_str(body.get("description")) or _nested_text(body.get("body"))
    return "\n".join(filter(None, [title, words]))


def _nested_text(value: Any) -> str:
    return as_str(value.get("text")) if isinstance(value, Mapping) else ""


def place_text(body: Mapping[str, Any]) -> str:
    """A location's own words: its name and address."""
    return " ".join(filter(None, [as_str(body.get("name")), as_str(body.get("address"))]))


def interactive_text(body: Mapping[str, Any]) -> str:
    """The option a button, list, template or native-flow reply chose: its title, else its id."""
    single = body.get("singleSelectReply")
    reply_body = body.get("body")
    return (
        as_str(body.get("selectedDisplayText"))
        or as_str(body.get("title"))
        or (as_str(single.get("selectedRowId")) if isinstance(single, Mapping) else "")
        or as_str(body.get("selectedId"))
        or as_str(body.get("selectedButtonId"))
        or (as_str(reply_body.get("text")) if isinstance(reply_body, Mapping) else "")
    )


def quoted_id(body: Any) -> str:
    """The id of the message a content body replies to (`contextInfo.stanzaId`) or reacts to (`key.id`)."""
    if not isinstance(body, Mapping):
        return ""
    context = body.get("contextInfo")
    if isinstance(context, Mapping) and context.get("stanzaId"):
        return as_str(context["stanzaId"])
    if isinstance(body.get("key"), Mapping):  # reactions point at a message
        return as_str(body["key"].get("id"))
    return ""
