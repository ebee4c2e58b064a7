"""EvolutionProvider: webhook routing and authentication, and the calls we make to Evolution.

Webhook facts (see the reference notes on Evolution): the body names its instance; Evolution does
not sign bodies, so requests are authenticated by a static header we configure (`X-Webhook-Token`)
or by the HS256 JWT Evolution adds when its webhook headers contain `jwt_key`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx
import jwt

from integrations.providers.base import (
    ChipAddress,
    Contact,
    Event,
    Ignored,
    MediaFile,
    NotSupported,
    OutboundMedia,
    Provider,
    ProviderError,
    SendResult,
    StoredMedia,
    WebhookRejected,
    WebhookRequest,
)
from integrations.providers.evolution.inbound import _EVENT_PARSERS, _require_object, normalize_event_name
from integrations.providers.values import as_str

# sendMedia's `mediatype`; audio goes as a voice note through sendWhatsAppAudio instead.
MEDIA_TYPES = frozenset({"image", "video", "document"})
LICENSE_REQUIRED = "LICENSE_REQUIRED"


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

    def _error_for(self, response: httpx.Response) -> ProviderError | None:
        """An unactivated Evolution 2.4 answers every business route with 503 `{"code": "LICENSE_REQUIRED"}`
        (`src/licensing/runtime.ts#gateMiddleware`): unlike other 503s, retrying cannot fix it.
        """
        if response.status_code == 503 and _licence_required(response):
            return ProviderError(
                "Evolution API is not activated (503 LICENSE_REQUIRED): activate the licence in its manager "
                "or pin Evolution 2.3.x; retrying will not help",
                permanent=True,
                status_code=503,
            )
        return None

    def send_text(self, chip: ChipAddress, to: Contact, text: str) -> SendResult:
        response = self._request(
            "POST",
            f"/message/sendText/{_instance(chip)}",
            headers=self._auth_headers(chip),
            json={"number": _recipient(to), "text": text},
        )
        return SendResult(provider_message_id=_sent_message_id(response))

    def send_media(self, chip: ChipAddress, to: Contact, media: OutboundMedia) -> SendResult:
        if media.kind == "audio":
            # A voice note (PTT); Evolution converts the file with ffmpeg (`encoding` defaults to true).
            path = f"/message/sendWhatsAppAudio/{_instance(chip)}"
            body: dict[str, Any] = {"number": _recipient(to), "audio": media.url}
        elif media.kind in MEDIA_TYPES:
            path = f"/message/sendMedia/{_instance(chip)}"
            body = {"number": _recipient(to), "mediatype": media.kind, "media": media.url}
            optional = {"mimetype": media.mime_type, "caption": media.caption, "fileName": media.file_name}
            body.update({name: value for name, value in optional.items() if value})
        else:
            raise NotSupported(f"evolution cannot send {media.kind!r} media")
        response = self._request("POST", path, headers=self._auth_headers(chip), json=body)
        return SendResult(provider_message_id=_sent_message_id(response))

    def send_typing(self, chip: ChipAddress, to: Contact, duration_ms: int) -> None:
        # Evolution holds this request open for `delay` ms while "typing…" shows: it is the pause.
        self._request(
            "POST",
            f"/chat/sendPresence/{_instance(chip)}",
            headers=self._auth_headers(chip),
            json={"number": _recipient(to), "presence": "composing", "delay": int(duration_ms)},
        )

    def mark_read(self, chip: ChipAddress, to: Contact, provider_message_ids: list[str]) -> None:
        ids = list(dict.fromkeys(i for i in provider_message_ids if i))  # the schema wants unique items
        if not ids:
            return
        remote_jid = _chat_jid(to)
        self._request(
            "POST",
            f"/chat/markMessageAsRead/{_instance(chip)}",
            headers=self._auth_headers(chip),
            json={"readMessages": [{"remoteJid": remote_jid, "fromMe": False, "id": i} for i in ids]},
        )

    def download_media(self, chip: ChipAddress, media: StoredMedia) -> MediaFile:
        inline = _inline_media(media.raw)
        if inline is not None:  # the webhook already carried the file (`webhook.base64: true`)
            return MediaFile(content=inline, mime_type=media.mime_type, file_name=media.file_name)
        # Evolution looks the message up by id in its own database and downloads it from WhatsApp.
        response = self._request(
            "POST",
            f"/chat/getBase64FromMediaMessage/{_instance(chip)}",
            headers=self._auth_headers(chip),
            json={"message": {"key": {"id": media.provider_message_id}}, "convertToMp4": False},
        )
        try:
            body = response.json()
        except ValueError:
            body = None
        content = _b64decode(body.get("base64")) if isinstance(body, Mapping) else None
        if content is None:
            raise ProviderError("gateway answered without the media file (no 'base64')", permanent=True)
        return MediaFile(
            content=content,
            mime_type=as_str(body.get("mimetype")) or media.mime_type,
            file_name=as_str(body.get("fileName")) or media.file_name,
        )

    def _auth_headers(self, chip: ChipAddress) -> dict[str, str]:
        # The global key works for every instance; an instance token, when we have one, is narrower.
        return {"apikey": chip.instance_token or self.config.api_key}


def _licence_required(response: httpx.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, Mapping) and body.get("code") == LICENSE_REQUIRED


def _valid_jwt(token: str, secret: str) -> bool:
    try:
        jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp"]}, leeway=30)
    except jwt.PyJWTError:
        return False
    return True


# --- outbound helpers -----------------------------------------------------------------------------


def _instance(chip: ChipAddress) -> str:
    return quote(chip.instance_name, safe="")


def _recipient(to: Contact) -> str:
    if to.phone:
        return to.phone.lstrip("+")
    if to.lid:
        return f"{to.lid}@lid"
    raise ValueError("contact has neither a phone nor a LID to send to")


def _chat_jid(to: Contact) -> str:
    """The chat's JID as markMessageAsRead wants it (it takes JIDs as given, no number lookup)."""
    if to.phone:
        return f"{to.phone.lstrip('+')}@s.whatsapp.net"
    if to.lid:
        return f"{to.lid}@lid"
    raise ValueError("contact has neither a phone nor a LID")


def _sent_message_id(response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    key = body.get("key") if isinstance(body, Mapping) else None
    message_id = key.get("id") if isinstance(key, Mapping) else None
    return message_id if isinstance(message_id, str) and message_id else None


def _inline_media(raw: Mapping[str, Any] | None) -> bytes | None:
    """The file a `webhook.base64` delivery carried in `message.base64`, when it decodes."""
    if not isinstance(raw, Mapping):
        return None
    data = raw.get("data") if isinstance(raw.get("data"), Mapping) else raw  # the data or the whole body
    message = data.get("message")
    return _b64decode(message.get("base64")) if isinstance(message, Mapping) else None


def _b64decode(value: Any) -> bytes | None:
    if not isinstance(value, str) or not value:
        return None
    if value.startswith("data:") and "," in value:  # a data URI
        value = value.split(",", 1)[1]
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return decoded or None
