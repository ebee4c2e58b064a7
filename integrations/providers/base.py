"""The one interface every WhatsApp gateway adapter implements.

Adapters know nothing of Recado's models: they turn a provider's JSON into the small normalized
events below, and our send calls into the provider's HTTP requests.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any, ClassVar

import certifi
import httpx

from integrations.providers.events import (
    ChipAddress,
    ConnectionUpdate,
    Contact,
    Event,
    GatewayConfig,
    IdentityLink,
    Ignored,
    InboundMessage,
    MediaFile,
    MessageEdited,
    MessageRevoked,
    PayloadPart,
    QrUpdate,
    SendResult,
    SessionInfo,
    StatusUpdate,
    WebhookRequest,
)

__all__ = [
    "ChipAddress",
    "ConnectionUpdate",
    "Contact",
    "Event",
    "GatewayConfig",
    "IdentityLink",
    "Ignored",
    "InboundMessage",
    "MediaFile",
    "MessageEdited",
    "MessageRevoked",
    "NotSupported",
    "OutboundMedia",
    "PayloadPart",
    "Provider",
    "ProviderError",
    "QrUpdate",
    "SendResult",
    "SessionInfo",
    "StatusUpdate",
    "StoredMedia",
    "WebhookRejected",
    "WebhookRequest",
]


@dataclass(frozen=True)
class OutboundMedia:
    """A file to send by URL: kind is image, document, audio or video."""

    kind: str
    url: str
    caption: str = ""
    file_name: str = ""
    mime_type: str = ""


@dataclass(frozen=True)
class StoredMedia:
    """What we kept of an inbound media message, enough for the adapter to fetch the file."""

    provider_message_id: str
    media_url: str = ""
    media_id: str = ""
    mime_type: str = ""
    file_name: str = ""
    raw: Mapping[str, Any] | None = None


class WebhookRejected(Exception):
    """The webhook body cannot be accepted; `status` is the HTTP answer (400, 401, 404)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class ProviderError(Exception):
    """A call to the gateway failed.

    `permanent`: retrying cannot help (bad number, bad credentials, 4xx).
    `outcome_unknown`: the request may have reached the gateway (timeout after sending), so it
    must not be blindly repeated; the gateway's own echo/status events settle it.
    """

    def __init__(self, message: str, *, permanent: bool, outcome_unknown: bool = False, status_code: int | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.outcome_unknown = outcome_unknown
        self.status_code = status_code


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    # Building a context loads the CA bundle: ~25 ms of CPU, once per process instead of per call.
    return ssl.create_default_context(cafile=certifi.where())


_clients: dict[tuple[str, float, str], httpx.Client] = {}
_clients_lock = threading.Lock()


def shared_client(base_url: str, timeout: float, user_agent: str) -> httpx.Client:
    """One HTTP client per gateway URL and process: thread-safe, keeps connections alive between calls."""
    key = (base_url, timeout, user_agent)
    client = _clients.get(key)
    if client is None:
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                client = httpx.Client(
                    base_url=base_url, timeout=timeout, headers={"User-Agent": user_agent}, verify=_tls_context()
                )
                _clients[key] = client
    return client


class NotSupported(ProviderError):
    """The provider has no such operation (e.g. typing on a send-only relay)."""

    def __init__(self, message: str):
        super().__init__(message, permanent=True)


class Provider:
    """Base class of gateway adapters. Subclasses set `kind` and implement the hooks.

    Inbound: `split` (which chip each part of a body is about) → `authenticate` (on the raw bytes)
    → `parse` (normalized events). Outbound: `send_text`, `send_media`, `send_typing`, `mark_read`,
    `download_media`, `resolve_lid`. Sessions: `session_create` (with our webhook configured),
    `session_connect` (QR or pairing code), `session_state`, `session_logout`, `session_delete`, and
    for the Cloud API the number registration calls. Every call to the gateway goes through
    `_request`, which turns transport and HTTP failures into ProviderError with `permanent` set right.
    """

    kind: ClassVar[str]
    #: The webhook endpoint (path segment under /webhooks/) this provider's gateways post to.
    webhook_endpoint: ClassVar[str]
    #: True when the endpoint's URL carries a secret segment (/webhooks/<endpoint>/<secret>/).
    webhook_path_secret: ClassVar[bool] = False
    #: True when the gateway may post each event to its own URL below ours (/webhooks/<endpoint>/<event>/,
    #: Evolution's `webhook_by_events`); the body still names the event, so the segment is not read.
    webhook_event_paths: ClassVar[bool] = False
    #: True when the endpoint answers a GET verification handshake (Meta).
    webhook_handshake: ClassVar[bool] = False
    #: Free-form sends are allowed only this long after the contact last wrote (Meta's 24 h window).
    service_window: ClassVar[timedelta | None] = None
    #: Whether the gateway's send answer carries a message id (Whaticket's does not).
    returns_message_ids: ClassVar[bool] = True
    #: Whether each chip needs its own token besides the gateway's key (Z-API's URL token).
    requires_instance_token: ClassVar[bool] = False
    #: Whether webhooks may name no chip (a relay in front of a single number).
    instance_optional: ClassVar[bool] = False
    #: Whether we run the chip's WhatsApp session on the gateway (create it, show its QR, log it out).
    sessions_managed: ClassVar[bool] = False
    #: Whether `session_connect` can answer a pairing code for a phone number instead of a QR.
    supports_pairing_code: ClassVar[bool] = False
    user_agent: ClassVar[str] = "Recado/0.1"

    def __init__(self, config: GatewayConfig, *, http: httpx.Client | None = None, timeout: float = 15.0):
        self.config = config
        self._http = http
        self._timeout = timeout

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            self._http = shared_client(self.config.base_url.rstrip("/"), self._timeout, self.user_agent)
        return self._http

    def close(self) -> None:
        """Nothing to release: clients are shared by the process (see `shared_client`)."""

    # --- inbound hooks ---------------------------------------------------------------------

    @classmethod
    def route_key(cls, payload: Mapping[str, Any]) -> str | None:
        """The gateway's id of the chip a body is about, or None when only the credentials tell.

        Raises WebhookRejected(400) when the body lacks a routing field it must have.
        """
        raise NotImplementedError

    @classmethod
    def split(cls, payload: Mapping[str, Any]) -> list[tuple[str | None, Mapping[str, Any]]]:
        """(route key, part) for each part of a body about a different chip; most bodies are one part."""
        return [(cls.route_key(payload), payload)]

    @classmethod
    def handshake(cls, query: Mapping[str, str], verify_token: str) -> str | None:
        """The challenge to echo for a valid GET verification, else None (Meta's hub.* handshake)."""
        return None

    def authenticate(self, request: WebhookRequest) -> bool:
        """True when the request provably comes from this gateway (checked on the raw bytes)."""
        raise NotImplementedError

    def parse(self, payload: Mapping[str, Any]) -> list[Event]:
        """Normalized events of one body (part). Raises WebhookRejected(400) when malformed."""
        raise NotImplementedError

    # --- outbound hooks ------------------------------------------------------------------------

    def send_text(self, chip: ChipAddress, to: Contact, text: str) -> SendResult:
        """Send a text message; returns the provider's message id when it gives one."""
        raise NotImplementedError

    def send_media(self, chip: ChipAddress, to: Contact, media: OutboundMedia) -> SendResult:
        """Send an image, document, audio or video by URL."""
        raise NotSupported(f"{self.kind} cannot send media")

    def send_typing(self, chip: ChipAddress, to: Contact, duration_ms: int) -> None:
        """Show 'typing…' to the contact for about `duration_ms` before a message."""
        raise NotSupported(f"{self.kind} has no typing indicator")

    def mark_read(self, chip: ChipAddress, to: Contact, provider_message_ids: list[str]) -> None:
        """Mark the contact's messages as read (blue ticks)."""
        raise NotSupported(f"{self.kind} cannot mark messages read")

    def download_media(self, chip: ChipAddress, media: StoredMedia) -> MediaFile:
        """The bytes of an inbound media message, through the provider's own mechanism."""
        raise NotSupported(f"{self.kind} cannot download media")

    def resolve_lid(self, chip: ChipAddress, lid: str) -> str | None:
        """The phone number (E.164) behind a WhatsApp LID, when the provider can tell."""
        return None

    # --- session hooks -----------------------------------------------------------------------------

    def session_create(
        self, chip: ChipAddress, *, webhook_url: str, webhook_headers: Mapping[str, str] | None = None
    ) -> SessionInfo:
        """Create the chip's instance/session on the gateway, its webhook pointed at `webhook_url`.

        The adapter subscribes the events its `parse` reads and adds its own webhook authentication
        (the gateway's webhook secret); `webhook_headers` are extra headers for gateways that can send
        them. Creating a session that already exists re-applies the webhook instead of failing.
        """
        raise NotSupported(f"{self.kind} cannot create gateway sessions")

    def session_connect(self, chip: ChipAddress, *, pairing_phone: str = "") -> SessionInfo:
        """Start linking the chip: a QR to scan, or a pairing code for `pairing_phone` (E.164) when
        `supports_pairing_code`. An already connected session answers state "connected"."""
        raise NotSupported(f"{self.kind} cannot connect gateway sessions")

    def session_state(self, chip: ChipAddress) -> SessionInfo:
        """The session's connection state as the gateway sees it now."""
        raise NotSupported(f"{self.kind} cannot report gateway session states")

    def session_logout(self, chip: ChipAddress) -> None:
        """Unlink the WhatsApp number from the gateway (it keeps the session's configuration)."""
        raise NotSupported(f"{self.kind} cannot log gateway sessions out")

    def session_delete(self, chip: ChipAddress) -> None:
        """Remove the chip's instance/session from the gateway altogether."""
        raise NotSupported(f"{self.kind} cannot delete gateway sessions")

    def request_verification_code(self, chip: ChipAddress, *, method: str = "SMS", language: str = "pt_BR") -> None:
        """Have WhatsApp send the number's ownership code by SMS or VOICE (Cloud API registration)."""
        raise NotSupported(f"{self.kind} cannot request verification codes")

    def submit_verification_code(self, chip: ChipAddress, code: str) -> None:
        """Prove ownership of the number with the code WhatsApp sent (Cloud API registration)."""
        raise NotSupported(f"{self.kind} cannot verify numbers")

    def register_number(self, chip: ChipAddress, pin: str) -> None:
        """Register the verified number for API use with its 6-digit two-step PIN (Cloud API)."""
        raise NotSupported(f"{self.kind} cannot register numbers")

    # --- shared helpers ----------------------------------------------------------------------------

    def _error_for(self, response: httpx.Response) -> ProviderError | None:
        """A provider-specific reading of an error answer (its own error codes), or None for the default.

        By default 429 and 5xx are transient and other 4xx permanent.
        """
        return None

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One HTTP call, with provider errors classified as transient or permanent."""
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.ConnectError as exc:
            # Nothing reached the gateway: safe to retry.
            raise ProviderError(f"cannot connect to gateway: {exc.__class__.__name__}", permanent=False) from exc
        except httpx.TimeoutException as exc:
            unknown = not isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout))
            raise ProviderError(
                f"gateway timed out: {exc.__class__.__name__}", permanent=False, outcome_unknown=unknown
            ) from exc
        except httpx.HTTPError as exc:
            raise ProviderError(f"gateway request failed: {exc.__class__.__name__}", permanent=False) from exc
        if response.status_code >= 400:
            specific = self._error_for(response)
            if specific is not None:
                raise specific
        if response.status_code == 429 or response.status_code >= 500:
            raise ProviderError(
                f"gateway answered {response.status_code}", permanent=False, status_code=response.status_code
            )
        if response.status_code >= 400:
            raise ProviderError(
                f"gateway refused the request ({response.status_code}): {_short_error(response)}",
                permanent=True,
                status_code=response.status_code,
            )
        return response


def _short_error(response: httpx.Response) -> str:
    """The provider's reason, trimmed, for the message's error field (never includes secrets we sent)."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        inner = body.get("response") or body.get("error") or body.get("message") or body
        return str(inner)[:200]
    return str(body)[:200]
