"""Whaticket relay adapter (whaticket-community, ticketz and the "Whaticket SaaS" forks).

Whaticket is a ticketing app, not a gateway: its only API is `POST /api/messages/send`, and the
only thing it posts out is the "integration" webhook of the SaaS forks (`handleMessageIntegration`
in `wbotMessageListener.ts`), which sends the raw Baileys `proto.IWebMessageInfo`
(`{key: {remoteJid, fromMe, id, participant?}, message: {…}, messageTimestamp, pushName, …}`) with
no auth, no signature and no retry. So a small relay sits between Whaticket and us: it adds the
contact's `number` and/or the `ticket` (`ticket.contact.number`, `ticket.whatsappId`) and signs.

Webhook (`POST /webhooks/whaticket/`):
- Authentication: `X-Timestamp` (epoch seconds, digits only, within ±300 s of our clock) and
  `X-Signature` = hex HMAC-SHA256(gateway webhook secret, `"{X-Timestamp}." + raw body`); a
  `sha256=` prefix is tolerated. Stale, future or non-numeric timestamps are refused (401), so a
  captured request cannot be replayed later; a replay inside the window only dedupes.
- `X-Webhook-Token` is optional. Decision: the HMAC secret is the gateway's `webhook_secret`; the
  token, when a request carries one, must equal the gateway's `verify_token` if the gateway has
  one set, and is ignored otherwise. It never replaces the signature.
- Routing: a Whaticket gateway with one chip needs no routing field. `route_key` is the connection
  id when the body names one (`whatsappId`, else `ticket.whatsappId`, as a string), and the chip's
  instance name must then be that id; without one, the view tries each gateway's chip and the
  signature says which gateway it is.
- The contact's phone comes from `number`, else `ticket.contact.number`, else `key.remoteJid`
  (then `remoteJidAlt` / `senderPn`); a `@lid` remoteJid gives the LID. No phone and no LID → 400
  "payload has no number". Groups (`@g.us`, `ticket.isGroup`), broadcasts and channels → Ignored.
- Message id: `key.id` when present. The relay may send no id (`{"message": …, "number": …}`):
  then the id is "wt-" + sha256 hex of (contact phone or LID, message timestamp, message content
  as canonical JSON — the text, plus whatever else tells two captionless photos apart). The
  timestamp is `messageTimestamp`, else the signed `X-Timestamp`: a retried delivery of the same
  body (and, with `messageTimestamp`, even a re-signed one) gets the same id and is stored once.

Outbound: `POST {base_url}/api/messages/send`, `Authorization: Bearer <token>`, JSON
`{"number": "<digits>", "body": text}` plus `"whatsappId": <int>` when the chip's instance name is
numeric (whaticket-community picks the connection by it; the SaaS forks and ticketz pick it by the
token). The token is the chip's instance token when set (SaaS/ticketz tokens belong to one
connection), else the gateway's API key. Whaticket answers 200 with an empty body or
`{"mensagem": …}` and never a message id, so `returns_message_ids` is False. Media is the same
endpoint as multipart (`medias` file + `number`/`body` fields): the file is fetched from its URL
first. Whaticket renders `body` with Mustache (`{{…}}` is interpreted) and the SaaS forks use the
file name as caption when `body` is empty. No typing, read receipts or media download.

Sessions: not ours. Whaticket links its numbers from its own UI: its connection routes
(`/whatsapp`, `/whatsappsession/:whatsappId` in whaticket-community `backend/src/routes/`) take a
logged-in user's JWT (`isAuth`), not the API token we hold, and the relay forwards messages only, so
there is no QR, state or ban signal to read: every session call is NotSupported.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import mimetypes
import time
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any, ClassVar
from urllib.parse import urlparse

from integrations.phones import is_lid, is_non_contact, is_person_jid, jid_user, normalize_phone
from integrations.providers.baileys import (
    ENCRYPTED_EDIT,
    KIND_OF,
    PROTOCOL_EDIT,
    PROTOCOL_REVOKE,
    WRAPPER_KEYS,
    content_fields,
    content_kind,
    encrypted_edit,
    quoted_id,
)
from integrations.providers.base import (
    ChipAddress,
    Contact,
    Event,
    Ignored,
    InboundMessage,
    MessageEdited,
    MessageRevoked,
    OutboundMedia,
    Provider,
    ProviderError,
    SendResult,
    WebhookRejected,
    WebhookRequest,
)
from integrations.providers.values import as_str, epoch_datetime, epoch_seconds

SEND_PATH = "/api/messages/send"
#: How far X-Timestamp may be from our clock, either way.
MAX_SKEW_SECONDS = 300
#: WhatsApp's largest attachment (documents); bigger files are refused before upload.
MAX_MEDIA_BYTES = 100 * 1024 * 1024

# Wrappers whose `message` holds the real content: Baileys' own, and the new content of an edit.
UNWRAP_KEYS = (*WRAPPER_KEYS, "editedMessage")
# Keys that, alone, make a message with no content we know a system message rather than "unknown".
NON_CONTENT_KEYS = frozenset({"messageContextInfo", "senderKeyDistributionMessage"})
# Extensions for nameless uploads (the platform's mime.types tables disagree, e.g. .oga for ogg).
EXTENSIONS = {
    "audio/ogg": ".ogg",
    "audio/mpeg": ".mp3",
    "audio/mp4": ".m4a",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "video/mp4": ".mp4",
    "application/pdf": ".pdf",
}


def _now() -> float:
    return time.time()


class WhaticketProvider(Provider):
    kind = "whaticket"
    webhook_endpoint = "whaticket"
    webhook_path_secret = False
    webhook_handshake = False
    returns_message_ids: ClassVar[bool] = False
    instance_optional: ClassVar[bool] = True  # a relay in front of one number names no connection
    sessions_managed: ClassVar[bool] = False  # linked in Whaticket's own UI

    # The verified X-Timestamp of the request this instance authenticated (the id of last resort).
    _signed_at: int | None = None

    # --- inbound ---------------------------------------------------------------------------------

    @classmethod
    def route_key(cls, payload: Mapping[str, Any]) -> str | None:
        for holder in (payload, payload.get("ticket")):
            if not isinstance(holder, Mapping):
                continue
            value = holder.get("whatsappId")
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, str)):
                raise WebhookRejected(400, "'whatsappId' must be a number or a string")
            text = str(value).strip()
            if text:
                return text
        return None

    def authenticate(self, request: WebhookRequest) -> bool:
        secret = self.config.webhook_secret
        if not secret:
            return False  # fail closed: a gateway without a secret accepts nothing
        headers = request.headers
        timestamp = _header(headers, "X-Timestamp").strip()
        if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
            return False
        if abs(int(_now()) - int(timestamp)) > MAX_SKEW_SECONDS:
            return False  # stale (a replay) or from the future
        signature = _header(headers, "X-Signature").strip().lower()
        signature = signature.removeprefix("sha256=")
        expected = hmac.new(secret.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            return False
        token = _header(headers, "X-Webhook-Token")
        verify_token = self.config.verify_token
        if token and verify_token and not hmac.compare_digest(token.encode(), verify_token.encode()):
            return False
        self._signed_at = int(timestamp)
        return True

    def parse(self, payload: Mapping[str, Any]) -> list[Event]:
        key = _optional_object(payload, "key")
        ticket = _optional_object(payload, "ticket")
        ticket_contact = _optional_object(ticket, "contact")
        remote_jid = as_str(key.get("remoteJid"))
        if is_non_contact(remote_jid) or ticket.get("isGroup") is True or ticket_contact.get("isGroup") is True:
            return [Ignored("group, broadcast or channel message")]

        content = payload.get("message")
        if not isinstance(content, Mapping):
            if payload.get("messageStubType") is not None:
                return [Ignored("notification without message content")]
            raise WebhookRejected(400, "payload has no 'message' object")

        contact = _contact(payload, key, ticket_contact)
        inner = _unwrap(content)
        system = _system_event(inner)
        if system is not None:
            return [system]

        kind, body = _content(inner)
        if kind is None:
            return [Ignored("system message")]
        fields = _content_fields(kind, body)
        epoch = epoch_seconds(payload.get("messageTimestamp"))
        from_me = key.get("fromMe") is True
        return [
            InboundMessage(
                provider_message_id=self._message_id(key, contact, epoch, content),
                contact=contact if not from_me else Contact(phone=contact.phone, lid=contact.lid),
                from_me=from_me,
                kind=kind,
                quoted_id=quoted_id(body),
                timestamp=epoch_datetime(payload.get("messageTimestamp")),
                raw=payload,
                **fields,
            )
        ]

    def _message_id(self, key: Mapping[str, Any], contact: Contact, epoch: int | None, content: Any) -> str:
        message_id = key.get("id")
        if isinstance(message_id, str) and message_id.strip():
            return message_id.strip()
        if message_id is not None and not isinstance(message_id, str):
            raise WebhookRejected(400, "'key.id' must be a string")
        return derived_message_id(contact, epoch if epoch is not None else self._signed_at, content)

    # --- outbound ----------------------------------------------------------------------------------

    def send_text(self, chip: ChipAddress, to: Contact, text: str) -> SendResult:
        body: dict[str, Any] = {"number": _recipient(to), "body": text}
        connection = _connection_id(chip)
        if connection is not None:
            body["whatsappId"] = connection
        self._request("POST", SEND_PATH, headers=self._auth_headers(chip), json=body)
        return SendResult(provider_message_id=None)  # Whaticket never says which WhatsApp id it used

    def send_media(self, chip: ChipAddress, to: Contact, media: OutboundMedia) -> SendResult:
        headers = self._auth_headers(chip)  # fail before downloading anything
        data = {"number": _recipient(to)}
        if media.caption:
            data["body"] = media.caption
        connection = _connection_id(chip)
        if connection is not None:
            data["whatsappId"] = str(connection)
        file_name, content, mime_type = self._fetch_media(media)
        self._request(
            "POST", SEND_PATH, headers=headers, data=data, files=[("medias", (file_name, content, mime_type))]
        )
        return SendResult(provider_message_id=None)

    def _fetch_media(self, media: OutboundMedia) -> tuple[str, bytes, str]:
        """The file behind `media.url` (name, bytes, MIME type), for the multipart upload."""
        parsed = urlparse(media.url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ProviderError("media URL must be an absolute http(s) URL", permanent=True)
        try:
            response = self._request("GET", media.url, follow_redirects=True)
        except ProviderError as exc:
            # Nothing reached Whaticket yet: never an unknown outcome, whatever the file host did.
            raise ProviderError(
                f"cannot fetch the media file: {exc}", permanent=exc.permanent, status_code=exc.status_code
            ) from exc
        content = response.content
        if len(content) > MAX_MEDIA_BYTES:
            raise ProviderError(f"media file larger than {MAX_MEDIA_BYTES} bytes", permanent=True)
        name = media.file_name or PurePosixPath(parsed.path).name
        header_type = response.headers.get("content-type", "").split(";", 1)[0].strip()
        mime_type = (
            media.mime_type
            or header_type
            or (mimetypes.guess_type(name)[0] if name else None)
            or "application/octet-stream"
        )
        if not name:
            extension = EXTENSIONS.get(mime_type) or mimetypes.guess_extension(mime_type) or ""
            name = f"{media.kind or 'file'}{extension}"
        return name, content, mime_type

    def _auth_headers(self, chip: ChipAddress) -> dict[str, str]:
        token = chip.instance_token or self.config.api_key
        if not token:
            # whaticket-community looks the token up among all settings: never send an empty one.
            raise ProviderError("no Whaticket API token configured for this chip or gateway", permanent=True)
        return {"Authorization": f"Bearer {token}"}


# --- webhook parsing ----------------------------------------------------------------------------------


def derived_message_id(contact: Contact, epoch: int | None, content: Any) -> str:
    """A stable id for a relayed message that carries none: same sender, time and content → same id."""
    identity = contact.phone or f"lid:{contact.lid}"
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256("\n".join([identity, "" if epoch is None else str(epoch), canonical]).encode())
    return "wt-" + digest.hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value if isinstance(value, str) else ""


def _optional_object(holder: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = holder.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise WebhookRejected(400, f"'{name}' must be an object")
    return value


def _contact(payload: Mapping[str, Any], key: Mapping[str, Any], ticket_contact: Mapping[str, Any]) -> Contact:
    lid = None
    for jid in (key.get("remoteJid"), key.get("senderLid"), key.get("remoteJidAlt")):
        if isinstance(jid, str) and is_lid(jid):
            lid = jid_user(jid)
            break
    phone = None
    for raw in (
        payload.get("number"),
        ticket_contact.get("number"),
        key.get("remoteJid"),
        key.get("remoteJidAlt"),
        key.get("senderPn"),
    ):
        if isinstance(raw, int) and not isinstance(raw, bool):
            raw = str(raw)
        if not isinstance(raw, str) or not raw.strip():
            continue
        if is_lid(raw):
            lid = lid or jid_user(raw)
            continue
        if "@" in raw and not is_person_jid(raw):
            continue
        if lid and jid_user(raw).lstrip("+") == lid:
            continue  # a LID written where a number belongs (ticketz #467): not a phone
        phone = normalize_phone(raw)
        if phone:
            break
    if phone is None and lid is None:
        raise WebhookRejected(400, "payload has no number")
    return Contact(phone=phone, lid=lid, push_name=as_str(payload.get("pushName")))


def _unwrap(content: Mapping[str, Any]) -> Mapping[str, Any]:
    for _ in range(4):  # wrappers nest at most a couple of levels (ephemeral → viewOnce → …)
        wrapper = next((name for name in UNWRAP_KEYS if isinstance(content.get(name), Mapping)), None)
        if wrapper is None:
            break
        inner = content[wrapper].get("message")
        if not isinstance(inner, Mapping):
            break
        content = inner
    return content


def _system_event(content: Mapping[str, Any]) -> Event | None:
    if encrypted_edit(content):
        return Ignored(ENCRYPTED_EDIT)
    protocol = content.get("protocolMessage")
    if not isinstance(protocol, Mapping):
        return None
    target = protocol.get("key")
    target_id = as_str(target.get("id")) if isinstance(target, Mapping) else ""
    kind = protocol.get("type", 0)  # REVOKE is the enum's zero value: absent means REVOKE
    if kind in PROTOCOL_REVOKE and target_id:
        return MessageRevoked(provider_message_id=target_id)
    if kind in PROTOCOL_EDIT and target_id:
        edited = protocol.get("editedMessage")
        edited_kind, body = _content(_unwrap(edited)) if isinstance(edited, Mapping) else (None, {})
        fields = _content_fields(edited_kind, body) if edited_kind else {}
        # A text edit carries the new text; a media edit, the new caption.
        return MessageEdited(provider_message_id=target_id, text=fields.get("text") or fields.get("caption", ""))
    return Ignored("system message")


def _content(content: Mapping[str, Any]) -> tuple[str | None, Any]:
    """Our kind and the body of the first content key we know, in the content's own order (like
    Baileys' getContentType); "unknown" for other content, None when only metadata is left."""
    first = next((name for name in content if name in KIND_OF), None)
    if first is not None:
        return content_kind(content, first)
    if set(content) - NON_CONTENT_KEYS:
        return "unknown", {}
    return None, {}


def _content_fields(kind: str, body: Any) -> dict[str, Any]:
    fields = content_fields(kind, body)
    if kind == "contact" and isinstance(body, Mapping):
        # The card's (or the card list's) own name first, else the first card's.
        contacts = body.get("contacts")
        first = contacts[0] if isinstance(contacts, list) and contacts and isinstance(contacts[0], Mapping) else {}
        fields["text"] = as_str(body.get("displayName")) or as_str(first.get("displayName"))
    return fields


# --- outbound helpers -----------------------------------------------------------------------------


def _recipient(to: Contact) -> str:
    """Digits for a phone; a LID only as a JID (ticketz takes JIDs as-is, the others answer 400)."""
    if to.phone:
        return "".join(ch for ch in to.phone if ch.isdigit())
    if to.lid:
        return f"{to.lid}@lid"
    raise ProviderError("contact has neither a phone nor a LID to send to", permanent=True)


def _connection_id(chip: ChipAddress) -> int | None:
    name = chip.instance_name.strip()
    return int(name) if name.isascii() and name.isdigit() else None
