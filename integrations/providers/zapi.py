"""Z-API adapter (Brazilian SaaS gateway, https://developer.z-api.io).

Webhook facts (Z-API/z-api-docs `docs/webhooks/*`, and real captures listed in
tests/fixtures/zapi/README.md):
- One URL per webhook kind (received, message status, delivery, connected, disconnected, chat
  presence); `update-every-webhooks` points them all at one URL. Bodies are told apart by `type`
  (`ReceivedCallback`, `MessageStatusCallback`, ...) and name their instance in `instanceId`
  (= Chip.instance_name).
- Z-API does not sign bodies and lets us set no header, so the webhook URL carries our secret:
  `POST /webhooks/zapi/<secret>/`, compared in constant time with the gateway's webhook secret.
- `phone` is digits, `<id>-group`, `<id>-broadcast`, `status@broadcast` or `<lid>@lid`; `chatLid`
  (and `senderLid` on messages from the contact) carry the LID beside it.
- `momment` is epoch milliseconds on messages and statuses but seconds in some examples: both are
  normalized by magnitude.
- Media URLs are public (no auth) and deleted by Z-API after 30 days.

Outbound: `{base_url}/instances/{instance id}/token/{instance token}/<method>` with the account's
`Client-Token` header. The instance token is a credential inside the URL: it never appears in an
exception message or a log line (see `_scrub` and `_RedactUrlTokens`).

Sessions (z-api-docs `docs/instance/{status,qrcode,disconnect}.md`, `docs/webhooks/update-every-webhooks.md`):
instances are bought and created in Z-API's panel, so `session_create` only points every webhook of
the instance at our URL (`PUT update-every-webhooks`, HTTPS only, with `notifySentByMe` for our own
messages). The QR comes as a base64 PNG from `qr-code/image` (`{"value": "data:image/png;base64,…"}`:
the docs only say "base64 image", the key is what every client in the search index reads) and a
pairing code from `phone-code/{phone}` (`{"code": …}`, same sourcing). `status` answers
`{connected, error, smartphoneConnected}`; `disconnect` unlinks the number.

Ban signals: none documented. `DisconnectedCallback` carries a free-text `error`, whose only documented
value is "Device has been disconnected" (`docs/webhooks/on-whatsapp-disconnected.md`), and `status`
documents only "You are already connected." / "You need to restore the session." / "You are not
connected."; bans appear only in the mobile-registration API (`blocked: true`,
`docs/mobile/registration-available.md`), which we do not use. So no Z-API event sets `banned`.
"""

from __future__ import annotations

import hmac
import mimetypes
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from integrations.phones import is_lid, is_non_contact, jid_user, normalize_phone
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
    NotSupported,
    OutboundMedia,
    Provider,
    ProviderError,
    SendResult,
    SessionInfo,
    StatusUpdate,
    StoredMedia,
    WebhookRejected,
    WebhookRequest,
)
from integrations.providers.values import as_float, as_str, as_text, epoch_datetime

# MessageStatusCallback `status`. READ_BY_ME is our number reading *their* message: not a
# delivery status of anything we sent.
STATUS_MAP = {
    "SENT": "sent",
    "RECEIVED": "delivered",
    "READ": "read",
    "PLAYED": "played",
}

# Content object of a ReceivedCallback → our kind. The first key present wins.
CONTENT_KINDS: tuple[tuple[str, str], ...] = (
    ("text", "text"),
    ("image", "image"),
    ("audio", "audio"),
    ("video", "video"),
    ("ptv", "video"),  # round video notes: the docs show `video`, real traffic sends `ptv{ptvUrl}`
    ("document", "document"),
    ("location", "location"),
    ("liveLocation", "location"),
    ("sticker", "sticker"),
    ("contact", "contact"),
    ("reaction", "reaction"),
    ("buttonsResponseMessage", "interactive"),
    ("listResponseMessage", "interactive"),
    ("hydratedTemplate", "text"),  # a business template sent to us: its text
    ("buttonsMessage", "text"),  # a button menu sent to us: its text
    ("carouselMessage", "text"),
    ("pollVote", "interactive"),  # an answer to a poll: the options chosen
    # Content the agent gets a short summary of (see SUMMARIES).
    ("poll", "unknown"),
    ("order", "unknown"),
    ("product", "unknown"),
    ("pixKeyMessage", "unknown"),
    ("requestPayment", "unknown"),
    ("sendPayment", "unknown"),
    ("reviewAndPay", "unknown"),
    ("reviewOrder", "unknown"),
)
# Where each media object keeps its file.
MEDIA_URL_KEYS = ("imageUrl", "audioUrl", "videoUrl", "ptvUrl", "documentUrl", "stickerUrl")
# Chats that are never a one-to-one conversation (phonenumbers' list lacks Z-API's `-broadcast`).
NON_CONTACT_SUFFIXES = ("-broadcast",)


class ZapiProvider(Provider):
    kind = "zapi"
    webhook_endpoint = "zapi"
    webhook_path_secret = True
    requires_instance_token = True
    webhook_handshake = False
    sessions_managed = True
    supports_pairing_code = True

    # --- inbound ---------------------------------------------------------------------------------

    @classmethod
    def route_key(cls, payload: Mapping[str, Any]) -> str:
        instance = payload.get("instanceId")
        if not isinstance(instance, str) or not instance.strip():
            raise WebhookRejected(400, "body has no 'instanceId' naming the Z-API instance")
        return instance

    def authenticate(self, request: WebhookRequest) -> bool:
        secret = self.config.webhook_secret
        if not secret or not request.path_secret:
            return False  # fail closed: a gateway without a secret accepts nothing
        # Bytes, not str: compare_digest refuses non-ASCII str, and a URL segment can be anything.
        return hmac.compare_digest(request.path_secret.encode(), secret.encode())

    def parse(self, payload: Mapping[str, Any]) -> list[Event]:
        kind = payload.get("type")
        if not isinstance(kind, str) or not kind:
            raise WebhookRejected(400, "body has no 'type'")
        # The docs spell it both `ReceivedCallback` and `ReceivedCallBack`.
        handler = _TYPE_PARSERS.get(kind.lower())
        if handler is None:
            return [Ignored(f"callback {kind} is not used")]
        return handler(payload)

    # --- outbound ----------------------------------------------------------------------------------

    def send_text(self, chip: ChipAddress, to: Contact, text: str) -> SendResult:
        response = self._call(chip, "POST", "send-text", json={"phone": _recipient(to), "message": text})
        return SendResult(provider_message_id=_sent_message_id(response))

    def send_media(self, chip: ChipAddress, to: Contact, media: OutboundMedia) -> SendResult:
        body: dict[str, Any] = {"phone": _recipient(to)}
        if media.kind == "image":
            method, body["image"] = "send-image", media.url
        elif media.kind == "video":
            method, body["video"] = "send-video", media.url
        elif media.kind == "audio":
            method, body["audio"] = "send-audio", media.url
        elif media.kind == "document":
            method, body["document"] = f"send-document/{_document_extension(media)}", media.url
            if media.file_name:
                body["fileName"] = media.file_name
        else:
            raise ProviderError(f"zapi cannot send media of kind {media.kind!r}", permanent=True)
        if media.caption and media.kind != "audio":  # send-audio has no caption
            body["caption"] = media.caption
        response = self._call(chip, "POST", method, json=body)
        return SendResult(provider_message_id=_sent_message_id(response))

    # send_typing stays NotSupported: Z-API has no typing call of its own. Its typing indicator
    # is the `delayTyping` (1-15 s) option of send-text, which holds the send itself; the
    # send_text hook is not told how long to type, so the outbound flow sends without it.

    def mark_read(self, chip: ChipAddress, to: Contact, provider_message_ids: list[str]) -> None:
        phone = _recipient(to)
        for message_id in provider_message_ids:
            self._call(chip, "POST", "read-message", json={"phone": phone, "messageId": message_id})

    def download_media(self, chip: ChipAddress, media: StoredMedia) -> MediaFile:
        url = media.media_url
        if not url:
            raise ProviderError("message has no media URL to download", permanent=True)
        if urlsplit(url).scheme not in ("https", "http"):
            raise ProviderError("media URL is not an http(s) URL", permanent=True)
        # Z-API serves received files from public storage links: no credentials go with them.
        response = self._request("GET", url)
        content_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip()
        return MediaFile(content=response.content, mime_type=media.mime_type or content_type, file_name=media.file_name)

    # --- sessions ----------------------------------------------------------------------------------

    def session_create(
        self, chip: ChipAddress, *, webhook_url: str, webhook_headers: Mapping[str, str] | None = None
    ) -> SessionInfo:
        if webhook_headers:
            raise NotSupported("zapi cannot add headers to its webhooks: the secret goes in the webhook URL")
        if urlsplit(webhook_url).scheme != "https":
            raise ProviderError("Z-API accepts only HTTPS webhook URLs", permanent=True)
        response = self._call(chip, "PUT", "update-every-webhooks", json={"value": webhook_url, "notifySentByMe": True})
        if _json(response).get("value") is not True:
            raise ProviderError("Z-API did not accept the webhook URL (update-every-webhooks)", permanent=True)
        return self.session_state(chip)

    def session_connect(self, chip: ChipAddress, *, pairing_phone: str = "") -> SessionInfo:
        if pairing_phone:
            digits = "".join(ch for ch in pairing_phone if ch.isdigit())
            body = _json(self._call(chip, "GET", f"phone-code/{digits}"))
            code = as_str(body.get("code")) or as_str(body.get("value"))
            if code:
                return SessionInfo(state="pairing", pairing_code=code)
        else:
            body = _json(self._call(chip, "GET", "qr-code/image"))
            image = as_str(body.get("value")) or as_str(body.get("base64"))
            if image:
                return SessionInfo(state="qr", qr_image=image)
        if body.get("connected") is True:
            return SessionInfo(state="connected")  # "already connected, it will not connect again"
        raise ProviderError("Z-API answered without a QR code or pairing code", permanent=False)

    def session_state(self, chip: ChipAddress) -> SessionInfo:
        body = _json(self._call(chip, "GET", "status"))
        error = as_str(body.get("error")).strip()
        if body.get("connected") is True:
            offline = body.get("smartphoneConnected") is False
            return SessionInfo(state="connected", detail="smartphone offline" if offline else error)
        return SessionInfo(state="disconnected", detail=error)

    def session_logout(self, chip: ChipAddress) -> None:
        self._call(chip, "GET", "disconnect")

    def session_delete(self, chip: ChipAddress) -> None:
        raise NotSupported(
            "zapi instances are paid subscriptions managed in Z-API's panel; session_logout unlinks the number"
        )

    def _call(self, chip: ChipAddress, method: str, action: str, **kwargs: Any):
        """One call to an instance method; credentials in the path and header, never in errors."""
        if not chip.instance_token:
            raise ProviderError("chip has no Z-API instance token (register_chip --instance-token)", permanent=True)
        path = f"/instances/{quote(chip.instance_name, safe='')}/token/{quote(chip.instance_token, safe='')}/{action}"
        headers = {"Client-Token": self.config.api_key} if self.config.api_key else {}
        try:
            return self._request(method, path, headers=headers, **kwargs)
        except ProviderError as exc:
            raise _scrub(exc, chip.instance_token, self.config.api_key) from None


# --- webhook parsing ----------------------------------------------------------------------------------


def _parse_received(payload: Mapping[str, Any]) -> list[Event]:
    phone = payload.get("phone")
    if _is_non_contact_chat(payload, phone):
        return [Ignored("group, broadcast, status or channel message")]

    notification = payload.get("notification")
    if isinstance(notification, str) and notification:
        if notification == "REVOKE":
            # "Deleted for everyone". Which id names the deleted message is not documented (a real
            # capture has referenceMessageId null): an id we never stored matches nothing.
            target = as_str(payload.get("referenceMessageId")) or as_str(payload.get("messageId"))
            if target:
                return [MessageRevoked(provider_message_id=target)]
        return [Ignored(f"notification {notification}")]
    if payload.get("waitingMessage") is True:
        # "Waiting for this message": WhatsApp has not delivered the content yet; recording it now
        # would make the real message, with the same id, a duplicate.
        return [Ignored("message still waiting for its content")]

    message_id = payload.get("messageId")
    if not isinstance(message_id, str) or not message_id:
        raise WebhookRejected(400, "ReceivedCallback has no 'messageId'")
    from_me = payload.get("fromMe") is True
    contact = _contact(payload, from_me=from_me)
    if not contact.known:
        raise WebhookRejected(400, "ReceivedCallback names no 'phone' or LID")

    if isinstance(payload.get("pinMessage"), Mapping):
        return [Ignored("a message pinned or unpinned")]
    key, kind, body = _content(payload)
    fields = _content_fields(kind, body)
    if key in SUMMARIES:
        fields["text"] = SUMMARIES[key](body)
    if payload.get("isEdit") is True:
        return _edits(payload, message_id, fields)
    return [
        InboundMessage(
            provider_message_id=message_id,
            contact=contact,
            from_me=from_me,
            kind=kind,
            quoted_id=_quoted_id(payload, key, body),
            timestamp=epoch_datetime(payload.get("momment")),
            sent_by_api=from_me and payload.get("fromApi") is True,
            raw=payload,
            **fields,
        )
    ]


def _is_non_contact_chat(payload: Mapping[str, Any], phone: Any) -> bool:
    if payload.get("isGroup") is True or payload.get("isNewsletter") is True or payload.get("broadcast") is True:
        return True
    return isinstance(phone, str) and (is_non_contact(phone) or phone.endswith(NON_CONTACT_SUFFIXES))


def _contact(payload: Mapping[str, Any], *, from_me: bool) -> Contact:
    """Phone and LID of the other party, from `phone` and `chatLid` (or `senderLid`).

    `phone` is the chat: a number or itself a `<lid>@lid`. On our own messages `senderLid` and
    `senderName` are about us, so only `chatLid` names the contact then.
    """
    phone = lid = None
    raw_phone = payload.get("phone")
    if isinstance(raw_phone, str) and raw_phone:
        if is_lid(raw_phone):
            lid = jid_user(raw_phone)
        else:
            phone = normalize_phone(raw_phone)
    lid_fields = ("chatLid",) if from_me else ("chatLid", "senderLid")
    for field_name in lid_fields:
        value = payload.get(field_name)
        if lid is None and isinstance(value, str) and is_lid(value):
            lid = jid_user(value)
    push_name = "" if from_me else as_str(payload.get("senderName")).strip()
    if push_name and (push_name == as_str(raw_phone) or (phone and normalize_phone(push_name) == phone)):
        push_name = ""  # Z-API puts the number here when the contact has no profile name
    return Contact(phone=phone, lid=lid, push_name=push_name)


def _content(payload: Mapping[str, Any]) -> tuple[str, str, Mapping[str, Any]]:
    """(the payload's content key, our kind, the content object)."""
    for key, kind in CONTENT_KINDS:
        body = payload.get(key)
        if isinstance(body, Mapping):
            return key, kind, body
    return "", "unknown", {}


def _names(items: Any) -> list[str]:
    return [as_str(item.get("name")) for item in items if isinstance(item, Mapping)] if isinstance(items, list) else []


def _products(body: Mapping[str, Any]) -> str:
    """'2x order 1, 1x nameProduct' from a cart's or an order's products."""
    products = body.get("products") if isinstance(body.get("products"), list) else []
    return ", ".join(
        f"{as_text(item.get('quantity')) or '1'}x {as_str(item.get('name'))}"
        for item in products
        if isinstance(item, Mapping)
    )


# What the agent reads of content that has no text of its own (the labels are the conversation's language).
SUMMARIES = {
    "carouselMessage": lambda body: as_str(body.get("text")),
    "pollVote": lambda body: " / ".join(_names(body.get("options"))),
    "poll": lambda body: ": ".join(
        filter(None, [f"[enquete] {as_str(body.get('question'))}", " / ".join(_names(body.get("options")))])
    ),
    "order": lambda body: f"[pedido] {_products(body) or as_str(body.get('orderTitle'))}",
    "product": lambda body: f"[produto] {as_str(body.get('title'))}",
    "pixKeyMessage": lambda body: f"[chave Pix] {as_str(body.get('key'))}",
    "requestPayment": lambda body: "[pedido de pagamento]",
    "sendPayment": lambda body: "[pagamento enviado]",
    "reviewAndPay": lambda body: f"[pedido] {_products(body)}",
    "reviewOrder": lambda body: f"[pedido] {_products(body)}",
}


def _content_fields(kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "caption": as_str(body.get("caption")),
        "mime_type": as_str(body.get("mimeType")),
        "media_url": next((as_str(body.get(key)) for key in MEDIA_URL_KEYS if as_str(body.get(key))), ""),
    }
    if kind == "text":
        fields["text"] = as_str(body.get("message"))
    elif kind == "document":
        fields["file_name"] = as_str(body.get("fileName")) or as_str(body.get("title"))
    elif kind == "location":
        fields["latitude"] = as_float(body.get("latitude"))
        fields["longitude"] = as_float(body.get("longitude"))
        fields["text"] = " ".join(filter(None, [as_str(body.get("name")), as_str(body.get("address"))]))
    elif kind == "reaction":
        fields["text"] = as_str(body.get("value"))
    elif kind == "interactive":
        # Button reply: `message` is the button's label; list reply: `title` is the row's title.
        fields["text"] = (
            as_str(body.get("title"))
            or as_str(body.get("message"))
            or as_str(body.get("selectedRowId"))
            or as_str(body.get("buttonId"))
        )
    elif kind == "contact":
        fields["text"] = as_str(body.get("displayName"))
    return fields


def _quoted_id(payload: Mapping[str, Any], key: str, body: Mapping[str, Any]) -> str:
    if key == "reaction":
        referenced = body.get("referencedMessage")
        if isinstance(referenced, Mapping) and as_str(referenced.get("messageId")):
            return as_str(referenced.get("messageId"))
    if key == "pollVote" and as_str(body.get("pollMessageId")):
        return as_str(body.get("pollMessageId"))
    return as_str(payload.get("referenceMessageId"))


def _edits(payload: Mapping[str, Any], message_id: str, fields: Mapping[str, Any]) -> list[Event]:
    """An edit names the edited message by `editMessageId` (send-text's name for "the message to
    edit") beside its own `messageId`. Which one is the original is not documented, so the edit is
    applied to both: only the id we stored matches a message.
    """
    text = fields.get("text") or fields.get("caption") or ""
    targets = [as_str(payload.get("editMessageId")), message_id]
    return [
        MessageEdited(provider_message_id=target, text=text)
        for index, target in enumerate(targets)
        if target and target not in targets[:index]
    ]


def _parse_status(payload: Mapping[str, Any]) -> list[Event]:
    ids = payload.get("ids")
    if ids is None and isinstance(payload.get("id"), str):  # the docs' table calls it `id`
        ids = [payload["id"]]
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
        raise WebhookRejected(400, "MessageStatusCallback needs a non-empty 'ids' list of message ids")
    phone = payload.get("phone")
    if payload.get("isGroup") is True or (
        isinstance(phone, str) and (is_non_contact(phone) or phone.endswith(NON_CONTACT_SUFFIXES))
    ):
        return [Ignored("status of a group, broadcast or status message")]
    raw_status = payload.get("status")
    if raw_status == "READ_BY_ME":
        return [Ignored("READ_BY_ME is our number reading their message")]
    status = STATUS_MAP.get(raw_status) if isinstance(raw_status, str) else None
    if status is None:
        return [Ignored(f"message status {raw_status!r} is not used")]
    recipient = _contact(payload, from_me=True)
    return [StatusUpdate(provider_message_id=message_id, status=status, recipient=recipient) for message_id in ids]


def _parse_delivery(payload: Mapping[str, Any]) -> list[Event]:
    """DeliveryCallback: the message left Z-API and reached WhatsApp (not yet the contact)."""
    message_id = payload.get("messageId")
    if not isinstance(message_id, str) or not message_id:
        raise WebhookRejected(400, "DeliveryCallback has no 'messageId'")
    phone = payload.get("phone")
    if isinstance(phone, str) and (is_non_contact(phone) or phone.endswith(NON_CONTACT_SUFFIXES)):
        return [Ignored("delivery to a group or broadcast")]
    recipient = _contact(payload, from_me=True)
    # Not documented, but a delivery report that carries an error must not count as sent.
    error = as_str(payload.get("error")).strip()
    if error:
        return [StatusUpdate(provider_message_id=message_id, status="failed", error=error[:200], recipient=recipient)]
    return [StatusUpdate(provider_message_id=message_id, status="sent", recipient=recipient)]


def _parse_connected(payload: Mapping[str, Any]) -> list[Event]:
    connected = payload.get("connected")
    return [ConnectionUpdate(state="disconnected" if connected is False else "connected")]


def _parse_disconnected(payload: Mapping[str, Any]) -> list[Event]:
    return [ConnectionUpdate(state="disconnected", detail=as_str(payload.get("error")).strip()[:200])]


def _parse_presence(payload: Mapping[str, Any]) -> list[Event]:
    return [Ignored("chat presence is not used")]


_TYPE_PARSERS = {
    "receivedcallback": _parse_received,
    "messagestatuscallback": _parse_status,
    "deliverycallback": _parse_delivery,
    "connectedcallback": _parse_connected,
    "disconnectedcallback": _parse_disconnected,
    "presencechatcallback": _parse_presence,
}


# --- outbound helpers -----------------------------------------------------------------------------


def _recipient(to: Contact) -> str:
    """Digits with country code, or `<lid>@lid` (accepted by most Z-API endpoints) without a phone."""
    if to.phone:
        return to.phone.lstrip("+")
    if to.lid:
        return f"{to.lid}@lid"
    raise ProviderError("contact has neither a phone nor a LID to send to", permanent=True)


def _json(response) -> Mapping[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, Mapping) else {}


def _sent_message_id(response) -> str | None:
    """`messageId` of a send answer ({"zaapId", "messageId", "id"}); `zaapId` is Z-API's own queue id."""
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, Mapping):
        return None
    for key in ("messageId", "id"):
        if isinstance(body.get(key), str) and body[key]:
            return body[key]
    return None


def _document_extension(media: OutboundMedia) -> str:
    """send-document/{extension}: from the file name, else the URL's path, else the MIME type."""
    candidates = [media.file_name, urlsplit(media.url).path]
    for candidate in candidates:
        suffix = candidate.rsplit(".", 1)[1] if "." in candidate.rsplit("/", 1)[-1] else ""
        if re.fullmatch(r"[A-Za-z0-9]{1,10}", suffix):
            return suffix.lower()
    guessed = mimetypes.guess_extension(media.mime_type or "")
    if guessed:
        return guessed.lstrip(".")
    raise ProviderError("cannot tell the document's file extension (send-document/{extension})", permanent=True)


def _scrub(exc: ProviderError, *secrets: str) -> ProviderError:
    """The same error with any credential we sent cut out of its message."""
    message = str(exc)
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    return ProviderError(
        message, permanent=exc.permanent, outcome_unknown=exc.outcome_unknown, status_code=exc.status_code
    )
