"""Who a WAHA message is from: its serialized id, its one-to-one chat and the contact behind it.

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

from collections.abc import Mapping
from typing import Any

from integrations.phones import is_lid, is_non_contact, is_person_jid, jid_user, normalize_phone
from integrations.providers.base import Contact, WebhookRejected


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
