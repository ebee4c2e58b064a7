"""EvolutionProvider: webhook routing and authentication, and the calls we make to Evolution.

Webhook facts (see the reference notes on Evolution): the body names its instance; Evolution does
not sign bodies, so requests are authenticated by a static header we configure (`X-Webhook-Token`)
or by the HS256 JWT Evolution adds when its webhook headers contain `jwt_key`.

Sessions (read in `src/api/controllers/instance.controller.ts` and `instance.router.ts` @2.3.6, with
answers captured from a 2.3.7 server; fixtures README): an instance is created with our webhook in
its `webhook` object and `X-Webhook-Token` in the webhook's `headers`; `GET /instance/connect` starts
the socket and answers the QR (and a pairing code when given `?number=`), or the state shape when the
instance is already open. `connectionState` only says open/connecting/close: the linked number and
why a closed instance closed come from its `fetchInstances` record (`ownerJid`,
`disconnectionReasonCode`, the Baileys close code Evolution stores when it gives up reconnecting).
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

from integrations.phones import jid_user, normalize_phone
from integrations.providers.baileys import BAN_CLOSE_CODES, BAN_CLOSE_REASONS
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
    SessionInfo,
    StoredMedia,
    WebhookRejected,
    WebhookRequest,
)
from integrations.providers.evolution.inbound import (
    _EVENT_PARSERS,
    CONNECTION_STATE_MAP,
    LOGGED_OUT_CODES,
    _require_object,
    normalize_event_name,
)
from integrations.providers.values import as_str

# sendMedia's `mediatype`; audio goes as a voice note through sendWhatsAppAudio instead.
MEDIA_TYPES = frozenset({"image", "video", "document"})
LICENSE_REQUIRED = "LICENSE_REQUIRED"

# The webhook events we subscribe: exactly those `parse` reads (their config names are the normalized
# event names: MESSAGES_UPSERT, SEND_MESSAGE, CONNECTION_UPDATE, QRCODE_UPDATED, ...).
WEBHOOK_EVENTS = tuple(_EVENT_PARSERS)
WEBHOOK_AUTH_HEADER = "X-Webhook-Token"


class _NameInUse(ProviderError):
    """`/instance/create` of a name that exists (403 `This name "…" is already in use.`)."""


class _NotConnected(ProviderError):
    """`/instance/logout` of an instance that is already closed (400 `… instance is not connected`)."""


class _UnknownInstance(ProviderError):
    """An instance route for a name Evolution does not know (404 `The "…" instance does not exist`)."""


# (status, words in Evolution's message) → the error class that tells the session calls what happened.
_KNOWN_REFUSALS = (
    (403, "already in use", _NameInUse),
    (400, "is not connected", _NotConnected),
    (404, "does not exist", _UnknownInstance),
)


class EvolutionProvider(Provider):
    kind = "evolution"
    webhook_endpoint = "evolution"
    webhook_event_paths = True  # `webhook_by_events`: /messages-upsert, /connection-update...
    sessions_managed = True
    supports_pairing_code = True

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

        Instance refusals the session calls act on (name in use, not connected, unknown instance) come
        back as their own ProviderError subclasses, as permanent as any other 4xx.
        """
        if response.status_code == 503 and _licence_required(response):
            return ProviderError(
                "Evolution API is not activated (503 LICENSE_REQUIRED): activate the licence in its manager "
                "or pin Evolution 2.3.x; retrying will not help",
                permanent=True,
                status_code=503,
            )
        message = _refusal_message(response)
        for status, words, error_class in _KNOWN_REFUSALS:
            if response.status_code == status and words in message:
                return error_class(
                    f"gateway refused the request ({status}): {message[:200]}", permanent=True, status_code=status
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

    # --- sessions ----------------------------------------------------------------------------------

    def session_create(
        self, chip: ChipAddress, *, webhook_url: str, webhook_headers: Mapping[str, str] | None = None
    ) -> SessionInfo:
        webhook = self._webhook_config(webhook_url, webhook_headers)
        body: dict[str, Any] = {
            "instanceName": chip.instance_name,
            "integration": "WHATSAPP-BAILEYS",
            # No QR yet: `session_connect` starts the socket when someone is there to scan it.
            "qrcode": False,
            # Group traffic is dropped at the source; we would ignore it anyway.
            "groupsIgnore": True,
            "webhook": webhook,
        }
        if chip.instance_token:
            body["token"] = chip.instance_token  # Evolution then uses our token instead of minting one
        try:
            # Creating instances needs the global key, never an instance token.
            response = self._request("POST", "/instance/create", headers={"apikey": self.config.api_key}, json=body)
        except _NameInUse:
            # Created by an earlier attempt (a retry after a timeout): only point its webhook at us.
            self._request(
                "POST", f"/webhook/set/{_instance(chip)}", headers=self._auth_headers(chip), json={"webhook": webhook}
            )
            return self.session_state(chip)
        return _created_info(_json(response))

    def session_connect(self, chip: ChipAddress, *, pairing_phone: str = "") -> SessionInfo:
        params = {"number": _digits(pairing_phone)} if pairing_phone else None
        response = self._request(
            "GET", f"/instance/connect/{_instance(chip)}", headers=self._auth_headers(chip), params=params
        )
        return _connect_info(_json(response))

    def session_state(self, chip: ChipAddress) -> SessionInfo:
        response = self._request(
            "GET", f"/instance/connectionState/{_instance(chip)}", headers=self._auth_headers(chip)
        )
        instance = _json(response).get("instance")
        raw_state = instance.get("state") if isinstance(instance, Mapping) else None
        state = CONNECTION_STATE_MAP.get(raw_state) if isinstance(raw_state, str) else None
        if state is None:
            return SessionInfo(state="disconnected", detail=f"Evolution reported no known state ({raw_state!r})")
        if raw_state not in ("open", "close"):
            return SessionInfo(state=state)
        record = self._instance_record(chip)
        if raw_state == "open":
            return SessionInfo(state=state, phone=_owner_phone(record.get("ownerJid")))
        return _closed_info(record)

    def session_logout(self, chip: ChipAddress) -> None:
        try:
            self._request("DELETE", f"/instance/logout/{_instance(chip)}", headers=self._auth_headers(chip))
        except _NotConnected:
            return  # already closed: nothing left to log out

    def session_delete(self, chip: ChipAddress) -> None:
        try:
            self._request("DELETE", f"/instance/delete/{_instance(chip)}", headers=self._auth_headers(chip))
        except _UnknownInstance:
            return  # already gone

    def _webhook_config(self, url: str, extra_headers: Mapping[str, str] | None) -> dict[str, Any]:
        """The `webhook` object of create and `/webhook/set`: our URL, the events `parse` reads, our token."""
        secret = self.config.webhook_secret
        if not secret:
            # `authenticate` fails closed without it: every delivery would be refused.
            raise ProviderError("the gateway has no webhook secret to put in the webhook headers", permanent=True)
        return {
            "enabled": True,
            "url": url,
            "byEvents": False,
            "base64": False,  # files are fetched on demand (getBase64FromMediaMessage)
            "headers": {**(extra_headers or {}), WEBHOOK_AUTH_HEADER: secret},
            "events": list(WEBHOOK_EVENTS),
        }

    def _instance_record(self, chip: ChipAddress) -> Mapping[str, Any]:
        """The instance's stored record (`fetchInstances`), or {} when the answer has none."""
        response = self._request(
            "GET",
            "/instance/fetchInstances",
            headers=self._auth_headers(chip),
            params={"instanceName": chip.instance_name},
        )
        records = _json_any(response)
        if not isinstance(records, list):
            return {}
        matching = [r for r in records if isinstance(r, Mapping) and r.get("name") == chip.instance_name]
        return matching[0] if matching else {}

    def _auth_headers(self, chip: ChipAddress) -> dict[str, str]:
        # The global key works for every instance; an instance token, when we have one, is narrower.
        return {"apikey": chip.instance_token or self.config.api_key}


def _refusal_message(response: httpx.Response) -> str:
    """Evolution's reason in `{"status", "error", "response": {"message": [...]}}`, as one string."""
    try:
        body = response.json()
    except ValueError:
        return ""
    inner = body.get("response") if isinstance(body, Mapping) else None
    message = inner.get("message") if isinstance(inner, Mapping) else None
    if isinstance(message, list):
        return " ".join(str(part) for part in message)
    return message if isinstance(message, str) else ""


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


# --- session helpers -------------------------------------------------------------------------------


def _json_any(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _json(response: httpx.Response) -> Mapping[str, Any]:
    body = _json_any(response)
    return body if isinstance(body, Mapping) else {}


def _digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())


def _owner_phone(owner_jid: Any) -> str:
    """E.164 of the linked number from Evolution's `ownerJid` / `wuid` (`5511…@s.whatsapp.net`)."""
    if not isinstance(owner_jid, str) or not owner_jid:
        return ""
    return normalize_phone("+" + jid_user(owner_jid)) or ""


def _qr_info(qrcode: Mapping[str, Any]) -> SessionInfo:
    """`{pairingCode, code, base64, count}`: the QR's string, its PNG, and a pairing code when asked."""
    code, image, pairing = as_str(qrcode.get("code")), as_str(qrcode.get("base64")), as_str(qrcode.get("pairingCode"))
    state = "pairing" if pairing else "qr" if code or image else "connecting"
    return SessionInfo(state=state, qr_code=code, qr_image=image, pairing_code=pairing)


def _created_info(body: Mapping[str, Any]) -> SessionInfo:
    """`/instance/create`'s answer: `instance.status` ("close" for a new instance) and `qrcode` if asked."""
    instance = body.get("instance")
    status = instance.get("status") if isinstance(instance, Mapping) else None
    if status == "open":
        return SessionInfo(state="connected")
    qrcode = body.get("qrcode")
    if isinstance(qrcode, Mapping) and (qrcode.get("code") or qrcode.get("pairingCode")):
        return _qr_info(qrcode)
    return SessionInfo(state="created")


def _connect_info(body: Mapping[str, Any]) -> SessionInfo:
    """`/instance/connect`'s answers: the QR object, the connectionState shape (already open), the
    `{instance: {status}, qrcode}` fallback, or `{error: true, message}` with HTTP 200."""
    if body.get("error") is True:
        # The controller catches its own failures and answers 200: the socket did not start.
        raise ProviderError(
            f"Evolution could not start the session: {as_str(body.get('message'))[:200]}", permanent=False
        )
    if any(key in body for key in ("code", "base64", "pairingCode")):
        return _qr_info(body)
    instance = body.get("instance")
    if isinstance(instance, Mapping):
        raw_state = instance.get("state") or instance.get("status")
        if raw_state == "open":
            return SessionInfo(state="connected")
        qrcode = body.get("qrcode")
        if isinstance(qrcode, Mapping):
            return _qr_info(qrcode)
        state = CONNECTION_STATE_MAP.get(raw_state) if isinstance(raw_state, str) else None
        return SessionInfo(state=state or "connecting", detail=f"Evolution state {raw_state!r}")
    return SessionInfo(state="connecting")


def _closed_info(record: Mapping[str, Any]) -> SessionInfo:
    """A closed instance, with why it closed when Evolution gave up reconnecting.

    Evolution writes `disconnectionReasonCode` (and `connectionStatus: "close"`) only for the close codes
    it does not reconnect after, and never clears the code: it is trusted only while the record says
    close, or a reconnect-then-transient-drop would replay an old ban.
    """
    reason = record.get("disconnectionReasonCode")
    if record.get("connectionStatus") != "close" or not isinstance(reason, int) or isinstance(reason, bool):
        return SessionInfo(state="disconnected")
    if reason in BAN_CLOSE_CODES:
        detail = f"{BAN_CLOSE_REASONS[reason]} ({reason})"
        return SessionInfo(state="logged_out", reason_code=reason, banned=True, detail=detail)
    state = "logged_out" if reason in LOGGED_OUT_CODES else "disconnected"
    return SessionInfo(state=state, reason_code=reason)
