"""The plain values the Salvy client and webhook parsers hand to the rest of Recado."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: Reasons Salvy's cancel endpoint knows (the schema also takes free text; we keep to the list).
CANCEL_REASONS = ("unnecessary", "whatsapp-ban", "technical-issues", "company-canceled")
#: Every status a v2 virtual phone account can have; `pending` = bought, awaiting confirmation.
ACCOUNT_STATUSES = ("pending", "active", "blocked", "canceled")


@dataclass(frozen=True)
class AreaCode:
    """A Brazilian DDD and whether Salvy has numbers in stock for it right now."""

    area_code: str
    available: bool


@dataclass(frozen=True)
class PhoneAccount:
    """A Salvy virtual phone account (one number)."""

    id: str
    name: str
    phone_number: str
    status: str
    created_at: datetime | None
    canceled_at: datetime | None
    cancel_reason: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class ReceivedSms:
    """An SMS a Salvy number received; `whatsapp_code` is "" when it carries no WhatsApp code."""

    id: str
    phone_account_id: str
    received_at: datetime | None
    origin: str
    destination: str
    message: str
    whatsapp_code: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def parse_timestamp(value: Any, what: str) -> datetime | None:
    """An aware UTC datetime from Salvy's ISO 8601 strings; None for null/empty. ValueError otherwise."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"{what} must be an ISO 8601 string, got {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{what} is not an ISO 8601 date-time: {value!r}") from None
    # Salvy writes UTC ('Z'); a value without an offset is read as UTC rather than local time.
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def phone_account_from_api(body: Any) -> PhoneAccount:
    """A PhoneAccount from the v2 resource (create/get/list). ValueError when it is not one."""
    if not isinstance(body, Mapping):
        raise ValueError(f"a phone account must be a JSON object, got {type(body).__name__}")
    account_id = body.get("id")
    status = body.get("status")
    if not isinstance(account_id, str) or not account_id:
        raise ValueError("phone account without an 'id'")
    if not isinstance(status, str) or not status:
        raise ValueError(f"phone account {account_id} without a 'status'")
    return PhoneAccount(
        id=account_id,
        name=_optional_str(body, "name"),
        phone_number=_optional_str(body, "phoneNumber"),
        status=status,
        created_at=parse_timestamp(body.get("createdAt"), "createdAt"),
        canceled_at=parse_timestamp(body.get("canceledAt"), "canceledAt"),
        cancel_reason=_optional_str(body, "cancelReason"),
        raw=dict(body),
    )


def area_code_from_api(item: Any) -> AreaCode:
    """An AreaCode from `{"areaCode": 11, "available": true}`. ValueError when it is not one."""
    if not isinstance(item, Mapping):
        raise ValueError(f"an area code entry must be a JSON object, got {type(item).__name__}")
    code = item.get("areaCode")
    available = item.get("available")
    # Salvy sends the DDD as a number; bool is an int subclass and must not pass as one.
    if isinstance(code, bool) or not isinstance(code, (int, str)) or not str(code).strip().isdigit():
        raise ValueError(f"area code entry with an unreadable 'areaCode': {code!r}")
    if not isinstance(available, bool):
        raise ValueError(f"area code {code} without a boolean 'available'")
    return AreaCode(area_code=str(int(code)), available=available)


def _optional_str(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"'{key}' must be a string or null, got {type(value).__name__}")
    return value
