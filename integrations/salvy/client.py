"""The Salvy v2 virtual-phone-accounts API (Brazilian virtual numbers).

Transient failures (network, timeouts, 429, 5xx) are retried here with exponential backoff;
permanent ones (other 4xx) raise at once. Buying a number (`create`) is the exception: see there.
"""

from __future__ import annotations

import builtins
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
import structlog

from integrations.providers.base import shared_client
from integrations.salvy.errors import (
    ErrorContext,
    SalvyError,
    SalvyNotConfigured,
    error_from_response,
    error_from_transport,
    invalid_response,
)
from integrations.salvy.sms import sms_from_fields
from integrations.salvy.values import (
    ACCOUNT_STATUSES,
    CANCEL_REASONS,
    AreaCode,
    PhoneAccount,
    ReceivedSms,
    area_code_from_api,
    phone_account_from_api,
)

log = structlog.get_logger(__name__)

USER_AGENT = "Recado/0.1"
API_PATH = "/api/v2"
#: A longer Retry-After is not slept through inside a call: the error carries it for the caller.
RETRY_AFTER_CAP_SECONDS = 30.0
#: Salvy documents pageSize ≤ 200 for the SMS list.
MAX_SMS_PAGE_SIZE = 200

# Failures raised before the request left this process: Salvy cannot have acted on it.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Brazilian DDDs are two digits, neither of them zero (11..99).
_AREA_CODE = re.compile(r"[1-9][1-9]")
_OTHER_VERSION = re.compile(r"/api/(v\d+)$")


def api_root(base_url: str) -> str:
    """The v2 API root for SALVY_API_URL given with or without its version path.

    `https://api.salvy.com.br` and `https://api.salvy.com.br/api/v2` both give the latter.
    """
    text = (base_url or "").strip().rstrip("/")
    url = httpx.URL(text)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"SALVY_API_URL must be an http(s) URL, got {base_url!r}")
    other = _OTHER_VERSION.search(url.path)
    if other and other.group(1) != "v2":
        raise ValueError(f"SALVY_API_URL points at API {other.group(1)}; this client speaks v2 ({API_PATH})")
    if text.endswith(API_PATH):
        return text
    return text + ("/v2" if text.endswith("/api") else API_PATH)


class SalvyClient:
    """Calls to Salvy with one API token. Methods return plain values and raise SalvyError."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        http: httpx.Client | None = None,
        timeout: float = 15.0,
        max_attempts: int = 3,
        backoff_seconds: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not (token or "").strip():
            raise SalvyNotConfigured()
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.root = api_root(base_url)
        self._token = token.strip()
        self._http = http
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self._sleep = sleep

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            self._http = shared_client(self.root, self.timeout, USER_AGENT)
        return self._http

    # --- operations ---------------------------------------------------------------------------

    def area_codes(self, *, available_only: bool = False) -> builtins.list[AreaCode]:
        """DDDs Salvy sells numbers in; with `available_only`, only those in stock now."""
        params = {"available": "true"} if available_only else None
        response = self._send("GET", "/virtual-phone-accounts/area-codes", params=params)
        body = _json(response)
        items = body.get("areaCodes") if isinstance(body, dict) else None
        if not isinstance(items, builtins.list):
            raise invalid_response(response, "no 'areaCodes' list")
        codes = _parse_each(response, items, area_code_from_api)
        return [code for code in codes if code.available] if available_only else codes

    def create(self, *, area_code: str, name: str | None = None) -> PhoneAccount:
        """Buy a number in a DDD (billed by Salvy). Check `area_codes(available_only=True)` first.

        Not idempotent: Salvy's v2 create takes no idempotency key, so a second POST buys a
        second number. It is therefore retried only when the request provably never reached
        Salvy (connection errors) or Salvy refused it before doing anything (429). After a read
        timeout or a 5xx the number may exist already: the SalvyError has `outcome_unknown=True`
        and the caller must look for it with `list()` (give each number a unique `name` so it can
        be recognised) before buying again.
        """
        ddd = _area_code(area_code)
        payload: dict[str, Any] = {"areaCode": int(ddd)}
        if name:
            payload["name"] = name
        response = self._send(
            "POST", "/virtual-phone-accounts", json=payload, idempotent=False, context=ErrorContext(area_code=ddd)
        )
        try:
            return phone_account_from_api(_json(response))
        except (ValueError, SalvyError) as exc:
            # The number was bought even though the answer is unreadable.
            error = exc if isinstance(exc, SalvyError) else invalid_response(response, str(exc))
            error.outcome_unknown = True
            raise error from None

    def get(self, account_id: str) -> PhoneAccount:
        """One phone account, in its current state."""
        response = self._send("GET", _account_path(account_id), context=ErrorContext(account_id=account_id))
        try:
            return phone_account_from_api(_json(response))
        except ValueError as exc:
            raise invalid_response(response, str(exc)) from None

    def sms_messages(
        self,
        account_id: str,
        *,
        page: int = 1,
        page_size: int = 50,
        received_from: datetime | None = None,
        service: str | None = None,
    ) -> builtins.list[ReceivedSms]:
        """SMS a number received, newest first: the fallback when an `sms.received` webhook was lost.

        `service` filters on Salvy's detection (`whatsapp`, `google`, ... or `none`).
        """
        if page < 1:
            raise ValueError("page starts at 1")
        if not 1 <= page_size <= MAX_SMS_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_SMS_PAGE_SIZE}")
        params: builtins.list[tuple[str, str | int]] = [("page", page), ("pageSize", page_size)]
        if received_from is not None:
            params.append(("receivedAtFrom", _iso_utc(received_from)))
        if service:
            params.append(("service", service))
        response = self._send(
            "GET",
            f"{_account_path(account_id)}/sms-messages",
            params=params,
            context=ErrorContext(account_id=account_id),
        )
        body = _json(response)
        items = body.get("smsMessages") if isinstance(body, dict) else None
        if not isinstance(items, builtins.list):
            raise invalid_response(response, "no 'smsMessages' list")
        # The list's items do not repeat the account id: it is the one asked about.
        return _parse_each(response, items, lambda item: sms_from_fields(_mapping(item), account_id=account_id))

    def cancel(self, account_id: str, *, reason: str) -> None:
        """Cancel a number at once (Salvy bills the whole month). A no-op for an already-canceled one.

        `reason` goes in the query string: the body field is deprecated in Salvy's spec.
        """
        if reason not in CANCEL_REASONS:
            raise ValueError(f"unknown Salvy cancel reason {reason!r}; use one of {', '.join(CANCEL_REASONS)}")
        path = _account_path(account_id)
        try:
            self._send("DELETE", path, params={"reason": reason}, context=ErrorContext(account_id=account_id))
        except SalvyError as exc:
            # A retried DELETE whose first attempt went through, or a second cancel, is refused
            # as unprocessable; the number being canceled is all the caller asked for.
            if exc.status_code not in (409, 422):
                raise
            try:
                account = self.get(account_id)
            except SalvyError:
                raise exc from None
            if account.status != "canceled":
                raise

    def list(self, *, status: str | None = None) -> builtins.list[PhoneAccount]:
        """Every phone account of the company; `status` filters here, v2 has no server-side filter."""
        if status is not None and status not in ACCOUNT_STATUSES:
            raise ValueError(f"unknown Salvy account status {status!r}; use one of {', '.join(ACCOUNT_STATUSES)}")
        response = self._send("GET", "/virtual-phone-accounts")
        items = _json(response)
        if not isinstance(items, builtins.list):
            raise invalid_response(response, "expected a JSON array of phone accounts")
        accounts = _parse_each(response, items, phone_account_from_api)
        return [account for account in accounts if status is None or account.status == status]

    # --- transport ----------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        context: ErrorContext | None = None,
        idempotent: bool = True,
        **kwargs: Any,
    ) -> httpx.Response:
        """One call with retries; returns the 2xx response or raises SalvyError."""
        context = context or ErrorContext()
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        for attempt in range(1, self.max_attempts + 1):
            cause: Exception | None = None
            try:
                response = self.http.request(method, self.root + path, headers=headers, timeout=self.timeout, **kwargs)
            except httpx.RequestError as exc:
                cause = exc
                sent = not isinstance(exc, _NOT_SENT)
                error = error_from_transport(exc, reached_salvy=sent and method != "GET")
                retryable = idempotent or not sent
            else:
                if response.is_success:
                    return response
                error = error_from_response(response, context)
                if error.permanent:
                    raise error
                # A 429 is refused before any work is done; a 5xx may come after the work.
                retryable = idempotent or response.status_code == 429
                if response.status_code >= 500 and not idempotent:
                    error.outcome_unknown = True
            delay = self._delay(attempt, error)
            if not retryable or attempt == self.max_attempts or delay is None:
                raise error from cause
            log.warning(
                "salvy.retry", method=method, path=path, code=error.code, status=error.status_code, attempt=attempt
            )
            self._sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _delay(self, attempt: int, error: SalvyError) -> float | None:
        """Seconds to wait before the next attempt; None when Salvy asked for longer than we wait inline."""
        if error.retry_after is not None:
            return error.retry_after if error.retry_after <= RETRY_AFTER_CAP_SECONDS else None
        return self.backoff_seconds * 2 ** (attempt - 1)


def salvy_client_from_settings(*, http: httpx.Client | None = None) -> SalvyClient:
    """A client from SALVY_API_URL and SALVY_API_TOKEN; SalvyNotConfigured when the token is empty."""
    from django.conf import settings

    token = getattr(settings, "SALVY_API_TOKEN", "") or ""
    if not token.strip():
        raise SalvyNotConfigured()
    return SalvyClient(settings.SALVY_API_URL, token, http=http)


def _account_path(account_id: str) -> str:
    if not isinstance(account_id, str) or not account_id.strip():
        raise ValueError("a Salvy phone account id is required")
    return f"/virtual-phone-accounts/{quote(account_id.strip(), safe='')}"


def _area_code(area_code: str | int) -> str:
    ddd = str(area_code).strip()
    if isinstance(area_code, bool) or not _AREA_CODE.fullmatch(ddd):
        raise ValueError(f"area_code must be a two-digit Brazilian DDD such as '11', got {area_code!r}")
    return ddd


def _iso_utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("received_from must be timezone-aware")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise invalid_response(response, "not JSON") from None


def _mapping(item: Any) -> Any:
    if not isinstance(item, dict):
        raise ValueError(f"expected a JSON object, got {type(item).__name__}")
    return item


def _parse_each(response: httpx.Response, items: builtins.list[Any], parse: Callable[[Any], Any]) -> builtins.list[Any]:
    try:
        return [parse(item) for item in items]
    except ValueError as exc:
        raise invalid_response(response, str(exc)) from None
