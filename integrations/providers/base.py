"""The one interface every WhatsApp gateway adapter implements.

Adapters know nothing of Recado's models: they turn a provider's JSON into the small normalized
events below, and our send calls into the provider's HTTP requests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import httpx


@dataclass(frozen=True)
class GatewayConfig:
    """What an adapter needs of a Gateway row (plain strings, secrets already decrypted)."""

    kind: str
    base_url: str
    api_key: str = ""
    webhook_secret: str = ""
    verify_token: str = ""


@dataclass(frozen=True)
class ChipAddress:
    """How the gateway names one of our numbers."""

    instance_name: str
    instance_token: str = ""
    phone: str = ""


@dataclass(frozen=True)
class Contact:
    """Who a message is from (or to). Any identifier may be missing; phone is E.164 with '+'."""

    phone: str | None = None
    lid: str | None = None
    bsuid: str | None = None
    push_name: str = ""


# --- normalized inbound events ----------------------------------------------------------------


@dataclass(frozen=True)
class InboundMessage:
    provider_message_id: str
    contact: Contact
    from_me: bool
    kind: str  # conversations.statuses.MessageKind values
    text: str = ""
    caption: str = ""
    mime_type: str = ""
    file_name: str = ""
    latitude: float | None = None
    longitude: float | None = None
    quoted_id: str = ""
    timestamp: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StatusUpdate:
    provider_message_id: str
    status: str  # sent, delivered, read, played, failed
    error: str = ""


@dataclass(frozen=True)
class ConnectionUpdate:
    state: str  # chips.models.SessionState values
    reason_code: int | None = None


@dataclass(frozen=True)
class QrUpdate:
    qr_code: str = ""
    pairing_code: str = ""


@dataclass(frozen=True)
class Ignored:
    """A valid event Recado has no use for (groups, broadcasts, unsubscribed event types)."""

    reason: str


Event = InboundMessage | StatusUpdate | ConnectionUpdate | QrUpdate | Ignored


# --- outbound -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str | None
    status: str = "sent"


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


class Provider:
    """Base class of gateway adapters. Subclasses set `kind` and implement the hooks."""

    kind: ClassVar[str]
    #: The webhook endpoint (path segment under /webhooks/) this provider's gateways post to.
    webhook_endpoint: ClassVar[str]
    user_agent: ClassVar[str] = "Recado/0.1"

    def __init__(self, config: GatewayConfig, *, http: httpx.Client | None = None, timeout: float = 15.0):
        self.config = config
        self._http = http
        self._timeout = timeout

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(
                base_url=self.config.base_url.rstrip("/"),
                timeout=self._timeout,
                headers={"User-Agent": self.user_agent},
            )
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    # --- inbound hooks ---------------------------------------------------------------------

    @classmethod
    def route_key(cls, payload: Mapping[str, Any]) -> str:
        """The gateway's id of the chip a webhook body is about. Raises WebhookRejected(400)."""
        raise NotImplementedError

    def authenticate(self, headers: Mapping[str, str], raw_body: bytes) -> bool:
        """True when the request provably comes from this gateway (checked on the raw bytes)."""
        raise NotImplementedError

    def parse(self, payload: Mapping[str, Any]) -> list[Event]:
        """Normalized events of one webhook body. Raises WebhookRejected(400) when malformed."""
        raise NotImplementedError

    # --- outbound hooks ------------------------------------------------------------------------

    def send_text(self, chip: ChipAddress, to: Contact, text: str) -> SendResult:
        """Send a text message; returns the provider's message id when it gives one."""
        raise NotImplementedError

    def send_typing(self, chip: ChipAddress, to: Contact, duration_ms: int) -> None:
        """Show 'typing…' to the contact for about `duration_ms` before a message."""
        raise NotImplementedError

    # --- shared helpers ----------------------------------------------------------------------------

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
