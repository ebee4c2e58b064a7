"""Salvy failures, turned into one exception an operator can read and a caller can act on.

Every Salvy error body is `{"code": "...", "message": "...", "publicDetails": {...}}`; `code` is the
stable part, `message` is free text (often Portuguese). The English explanation below is what an
operator sees in an alert or a command's output.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

# Status codes whose body had no usable `code`, named the way Salvy names them.
_CODE_FOR_STATUS = {
    401: "unauthorized",
    403: "forbidden",
    404: "resource-not-found",
    413: "payload-too-large",
    429: "too-many-requests",
    500: "unknown",
}

# Codes whose explanation needs Salvy's own words (which field, which rule) to be actionable.
_NEEDS_SALVY_DETAIL = frozenset({"forbidden", "input-validation-error", "unprocessable-entity", "unknown"})


@dataclass(frozen=True)
class ErrorContext:
    """What the failing call was about, so the message can name it."""

    area_code: str = ""
    account_id: str = ""


class SalvyError(Exception):
    """A Salvy call failed.

    `code`: Salvy's error code (`did-area-code-out-of-stock`, `unauthorized`, ...) or one of ours:
    `network`, `timeout`, `too-many-requests`, `invalid-response`, `not-configured`, `http-<status>`.
    `permanent`: retrying the same call cannot help (a 4xx other than 429).
    `outcome_unknown`: the request may have taken effect at Salvy although we got no answer
    (matters for `create`, which buys a number: reconcile with `list()` before trying again).
    `retry_after`: seconds Salvy asked us to wait (429 `Retry-After`), when it said so.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str,
        permanent: bool,
        status_code: int | None = None,
        outcome_unknown: bool = False,
        retry_after: float | None = None,
        salvy_message: str = "",
        details: Mapping[str, Any] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.code = code
        self.permanent = permanent
        self.status_code = status_code
        self.outcome_unknown = outcome_unknown
        self.retry_after = retry_after
        self.salvy_message = salvy_message
        self.details = dict(details or {})


class SalvyNotConfigured(SalvyError):
    """SALVY_API_TOKEN is empty: nothing can be asked of Salvy."""

    def __init__(self, message: str = "Salvy is not configured: set SALVY_API_TOKEN"):
        super().__init__(message, code="not-configured", permanent=True)


def error_from_response(response: httpx.Response, context: ErrorContext) -> SalvyError:
    """The SalvyError for a non-2xx answer: 429 and 5xx are transient, any other 4xx permanent."""
    status = response.status_code
    body = _json_object(response)
    code = body.get("code") if isinstance(body.get("code"), str) and body.get("code") else None
    code = code or _CODE_FOR_STATUS.get(status) or ("unknown" if status >= 500 else f"http-{status}")
    salvy_message = body.get("message") if isinstance(body.get("message"), str) else ""
    details = body.get("publicDetails") if isinstance(body.get("publicDetails"), Mapping) else {}
    transient = status == 429 or status >= 500
    return SalvyError(
        describe(code, status, context, salvy_message=salvy_message, details=details),
        code=code,
        permanent=not transient,
        status_code=status,
        retry_after=retry_after_seconds(response) if status == 429 else None,
        salvy_message=salvy_message,
        details=details,
    )


def error_from_transport(exc: httpx.RequestError, *, reached_salvy: bool) -> SalvyError:
    """The SalvyError for a failure below HTTP (DNS, refused connection, timeout, dropped socket)."""
    name = exc.__class__.__name__
    if isinstance(exc, httpx.TimeoutException):
        code, message = "timeout", f"Salvy did not answer in time ({name})"
    elif isinstance(exc, httpx.ConnectError):
        code, message = "network", f"cannot reach Salvy ({name})"
    else:
        code, message = "network", f"the connection to Salvy failed ({name})"
    return SalvyError(message, code=code, permanent=False, outcome_unknown=reached_salvy)


def invalid_response(response: httpx.Response, problem: str) -> SalvyError:
    """A 2xx answer we cannot read: Salvy changed shape, or something else answered on its URL."""
    return SalvyError(
        f"Salvy answered HTTP {response.status_code} with an unexpected body: {problem}",
        code="invalid-response",
        permanent=True,
        status_code=response.status_code,
    )


def describe(
    code: str,
    status: int | None,
    context: ErrorContext,
    *,
    salvy_message: str = "",
    details: Mapping[str, Any] | None = None,
) -> str:
    """An operator-facing English sentence for a Salvy error code."""
    ddd = f"DDD {context.area_code}" if context.area_code else "the requested DDD"
    explanations = {
        "did-area-code-out-of-stock": f"no numbers left for {ddd}; pick another DDD",
        "missing-area-code-inventory-config": f"Salvy has no number inventory configured for {ddd}; "
        "pick another DDD or ask Salvy to enable it",
        "unauthorized": "Salvy rejected the API token (SALVY_API_TOKEN)",
        "forbidden": "Salvy refused this operation for the configured API token",
        "company-tier-limit-exceeded": "the Salvy account reached its plan's limit of numbers; "
        "cancel unused numbers or upgrade the plan",
        "virtual-phone-account-beta-tester": "the Salvy account is not enabled for virtual numbers yet; "
        "ask Salvy to enable the feature",
        "resource-not-found": f"Salvy has no phone account {context.account_id}"
        if context.account_id
        else "Salvy found no such resource",
        "input-validation-error": "Salvy rejected the request as invalid",
        "unprocessable-entity": "Salvy could not process the request",
        "company-not-active": "the Salvy company account is not active; check it on the Salvy dashboard",
        "company-has-pending-verification": "the Salvy company account has a pending verification; "
        "complete it on the Salvy dashboard before buying numbers",
        "payload-too-large": "Salvy rejected the request as too large",
        "too-many-requests": "Salvy is rate limiting our requests (HTTP 429)",
        "unknown": "Salvy had an internal error",
    }
    text = explanations.get(code) or f"Salvy refused the request (HTTP {status}, code {code!r})"
    if code in _NEEDS_SALVY_DETAIL or code not in explanations:
        detail = _salvy_detail(salvy_message, details or {})
        if detail:
            text = f"{text}: {detail}"
    return text


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or an HTTP date); None when absent or unreadable."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _salvy_detail(message: str, details: Mapping[str, Any]) -> str:
    parts = [message.strip()] if message.strip() else []
    parts += [f"{key}: {value}" for key, value in details.items()]
    return "; ".join(parts)[:300]


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
