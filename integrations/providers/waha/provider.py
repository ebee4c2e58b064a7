"""WahaProvider: webhook routing and authentication, and the calls we make to WAHA.

Webhook facts (devlikeapro/waha-docs `content/docs/how-to/events/index.md`, waha source): every body
is an envelope `{"event", "session", "me", "payload", "engine", ...}`; the session name is our
Chip.instance_name. With `hmac.key` set, WAHA signs the raw body: `X-Webhook-Hmac` is the hex
HMAC-SHA512 of it (`X-Webhook-Hmac-Algorithm: sha512`).

Sessions (waha-docs `content/docs/how-to/sessions/index.md` @1a6f1c4; waha `src/api/sessions.controller.ts`
and `auth.controller.ts` @55fc6a4): `POST /api/sessions` creates the session with its `config.webhooks`
(our URL, the events `parse` reads, the HMAC key); `GET /api/{session}/auth/qr?format=raw` answers the
QR's string and `POST /api/{session}/auth/request-code` a pairing code, both only while the session is
in SCAN_QR_CODE, so a stopped or failed session is (re)started first.
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

from integrations.phones import is_lid, jid_user
from integrations.providers.base import (
    ChipAddress,
    Contact,
    Event,
    Ignored,
    MediaFile,
    OutboundMedia,
    Provider,
    ProviderError,
    SendResult,
    SessionInfo,
    StoredMedia,
    WebhookRejected,
    WebhookRequest,
)
from integrations.providers.values import as_str
from integrations.providers.waha.identity import _me_users, _phone, _raw_id
from integrations.providers.waha.inbound import _EVENT_PARSERS, SESSION_STATE_MAP

SIGNATURE_HEADER = "X-Webhook-Hmac"
ALGORITHM_HEADER = "X-Webhook-Hmac-Algorithm"

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

# The events we subscribe, all read by `parse`. `message.any` already carries every incoming message
# (and ours): adding `message` would deliver each incoming one twice (waha#1384).
WEBHOOK_EVENTS = (
    "message.any",
    "message.reaction",
    "message.ack",
    "message.edited",
    "message.revoked",
    "session.status",
)
# Exponential retries with jitter (docs "Webhooks → Retries"); free in Core since 2026.6.1.
WEBHOOK_RETRIES = {"policy": "exponential", "delaySeconds": 2, "attempts": 10}
# Chats we never answer, dropped by WAHA before any webhook (docs "Session Config → Ignore").
IGNORED_CHATS = {"status": True, "groups": True, "channels": True, "broadcast": True}


class _SessionExists(ProviderError):
    """`POST /api/sessions` for a name WAHA already has (422 `Session '…' already exists. Use PUT…`)."""


class WahaProvider(Provider):
    kind = "waha"
    webhook_endpoint = "waha"
    webhook_path_secret = False
    webhook_handshake = False
    sessions_managed = True
    supports_pairing_code = True

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

    # --- sessions ----------------------------------------------------------------------------------

    def session_create(
        self, chip: ChipAddress, *, webhook_url: str, webhook_headers: Mapping[str, str] | None = None
    ) -> SessionInfo:
        config = self._session_config(webhook_url, webhook_headers)
        # Not started: the QR flow (6 codes, then FAILED) begins when `session_connect` asks for it.
        body = {"name": chip.instance_name, "start": False, "config": config}
        try:
            response = self._request("POST", "/api/sessions", headers=self._auth_headers(), json=body)
        except _SessionExists:
            # Created by an earlier attempt: apply the configuration again (WAHA restarts a running session).
            response = self._request(
                "PUT",
                f"/api/sessions/{_session(chip)}",
                headers=self._auth_headers(),
                json={"name": chip.instance_name, "config": config},
            )
            return _session_info(_json(response))
        info = _session_info(_json(response))
        return SessionInfo(state="created") if info.detail == "STOPPED" else info

    def session_connect(self, chip: ChipAddress, *, pairing_phone: str = "") -> SessionInfo:
        current = self.session_state(chip)
        if current.state == "connected":
            return current
        if current.detail == "STOPPED":
            self._request("POST", f"/api/sessions/{_session(chip)}/start", headers=self._auth_headers())
        elif current.detail == "FAILED":
            # The docs' first remedy for FAILED; a start would leave it failed.
            self._request("POST", f"/api/sessions/{_session(chip)}/restart", headers=self._auth_headers())
        if pairing_phone:
            response = self._request(
                "POST",
                f"/api/{_session(chip)}/auth/request-code",
                headers=self._auth_headers(),
                json={"phoneNumber": _digits(pairing_phone)},
            )
            code = as_str(_json(response).get("code"))
            if not code:
                raise ProviderError("WAHA answered the pairing request without a code", permanent=False)
            return SessionInfo(state="pairing", pairing_code=code)
        response = self._request(
            "GET",
            f"/api/{_session(chip)}/auth/qr",
            headers={**self._auth_headers(), "Accept": "application/json"},
            params={"format": "raw"},
        )
        value = as_str(_json(response).get("value"))
        if not value:
            raise ProviderError("WAHA answered the QR request without a value", permanent=False)
        return SessionInfo(state="qr", qr_code=value)

    def session_state(self, chip: ChipAddress) -> SessionInfo:
        response = self._request("GET", f"/api/sessions/{_session(chip)}", headers=self._auth_headers())
        return _session_info(_json(response))

    def session_logout(self, chip: ChipAddress) -> None:
        self._request("POST", f"/api/sessions/{_session(chip)}/logout", headers=self._auth_headers())

    def session_delete(self, chip: ChipAddress) -> None:
        # Idempotent on WAHA's side; it also logs the number out and stops the session.
        self._request("DELETE", f"/api/sessions/{_session(chip)}", headers=self._auth_headers())

    def _session_config(self, url: str, extra_headers: Mapping[str, str] | None) -> dict[str, Any]:
        secret = self.config.webhook_secret
        if not secret:
            # `authenticate` fails closed without it: every delivery would be refused.
            raise ProviderError("the gateway has no webhook secret to use as the webhook's HMAC key", permanent=True)
        webhook: dict[str, Any] = {
            "url": url,
            "events": list(WEBHOOK_EVENTS),
            "hmac": {"key": secret},
            "retries": dict(WEBHOOK_RETRIES),
        }
        if extra_headers:
            webhook["customHeaders"] = [{"name": name, "value": value} for name, value in extra_headers.items()]
        return {"webhooks": [webhook], "ignore": dict(IGNORED_CHATS)}

    def _error_for(self, response: httpx.Response) -> ProviderError | None:
        if response.status_code == 422 and "already exists" in _nest_message(response):
            return _SessionExists(
                f"gateway refused the request (422): {_nest_message(response)[:200]}", permanent=True, status_code=422
            )
        return None

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


# --- session helpers -------------------------------------------------------------------------------


def _session(chip: ChipAddress) -> str:
    return quote(chip.instance_name, safe="")


def _digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())


def _json(response: httpx.Response) -> Mapping[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, Mapping) else {}


def _nest_message(response: httpx.Response) -> str:
    """NestJS's error reason: `{"statusCode", "message": str | [str], "error"}`."""
    message = _json(response).get("message")
    if isinstance(message, list):
        return " ".join(str(part) for part in message)
    return message if isinstance(message, str) else ""


def _session_info(body: Mapping[str, Any]) -> SessionInfo:
    """A session object (`{name, status, config, me, engine}`) as SessionInfo; `detail` keeps WAHA's status."""
    status = as_str(body.get("status")).upper()
    state = SESSION_STATE_MAP.get(status)
    if state is None:
        return SessionInfo(state="disconnected", detail=status or "no status")
    me = body.get("me")
    me_id = me.get("id") if isinstance(me, Mapping) else None
    phone = _phone(me_id) if state == "connected" and isinstance(me_id, str) and me_id else None
    return SessionInfo(state=state, phone=phone or "", detail=status)
