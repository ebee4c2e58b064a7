"""Salvy webhook bodies (`sms.received`, `phone-account.*`) and WhatsApp codes in SMS text.

Salvy sends `sms.received` for every SMS a number gets, spam included, and its `detections` are
optional: the WhatsApp code comes from `detections.whatsapp.verificationCode` when Salvy found one,
else from a conservative regex on the text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from integrations.salvy.values import ReceivedSms, parse_timestamp

SMS_RECEIVED = "sms.received"
ACCOUNT_EVENTS = (
    "phone-account.blocked",
    "phone-account.unblocked",
    "phone-account.canceled",
    "phone-account.reactivated",
)

# Six digits, as one run or split 3+3 by a hyphen or a space ("123-456", "123 456", "123456").
# The lookarounds keep it from taking a piece of something longer: a phone number or protocol
# ("12345678901", "11 987 654 321"), a prefixed code of another service ("G-123456"), a word.
_SEPARATOR = "[- \u00a0]"
_CODE_PATTERN = re.compile(
    rf"(?<![\w-])(?<!\d{_SEPARATOR})(\d{{3}}){_SEPARATOR}?(\d{{3}})(?![\w-])(?!{_SEPARATOR}\d)",
)


def extract_whatsapp_code(text: str) -> str:
    """The 6-digit code in an SMS text, digits only; "" when there is none or several different ones."""
    if not text:
        return ""
    codes = {first + second for first, second in _CODE_PATTERN.findall(text)}
    # Two different candidates: guessing would feed WhatsApp a wrong code, so leave it to a human.
    return codes.pop() if len(codes) == 1 else ""


def parse_sms_received(payload: Mapping[str, Any]) -> ReceivedSms:
    """The SMS of an `sms.received` webhook body. ValueError (clear message) when it is malformed.

    Takes both the v2 body (only the deprecated `virtualPhoneAccountId`) and the newer one that
    also carries `phoneAccountId`, which wins when both are present.
    """
    data = _event_data(payload, (SMS_RECEIVED,))
    received_at = _timestamp(data, "receivedAt") or _timestamp(payload, "timestamp")
    return sms_from_fields(data, account_id=_account_id(data), received_at=received_at, raw=dict(payload))


def parse_account_event(payload: Mapping[str, Any]) -> tuple[str, str]:
    """(event type, phone account id) of a `phone-account.*` webhook. ValueError when malformed.

    Salvy warns these may arrive out of order or twice: treat them as "look at this account now"
    (fetch it with `SalvyClient.get`), not as the account's state.
    """
    data = _event_data(payload, ACCOUNT_EVENTS)
    return str(payload["type"]), _account_id(data)


def sms_from_fields(
    data: Mapping[str, Any],
    *,
    account_id: str,
    received_at: datetime | None = None,
    raw: dict[str, Any] | None = None,
) -> ReceivedSms:
    """A ReceivedSms from the fields shared by the webhook's `data` and the SMS list API's items."""
    sms_id = data.get("id")
    if not isinstance(sms_id, str) or not sms_id:
        raise ValueError("SMS without an 'id'")
    message = data.get("message")
    if not isinstance(message, str):
        raise ValueError(f"SMS {sms_id}: 'message' must be a string, got {type(message).__name__}")
    if received_at is None:
        received_at = _timestamp(data, "receivedAt")
    return ReceivedSms(
        id=sms_id,
        phone_account_id=account_id,
        received_at=received_at,
        origin=_optional_str(data, "originPhoneNumber", sms_id),
        destination=_optional_str(data, "destinationPhoneNumber", sms_id),
        message=message,
        whatsapp_code=_whatsapp_code(data.get("detections"), message, sms_id),
        raw=dict(data) if raw is None else raw,
    )


def _whatsapp_code(detections: Any, message: str, sms_id: str) -> str:
    if detections is None:
        detections = {}
    if not isinstance(detections, Mapping):
        raise ValueError(f"SMS {sms_id}: 'detections' must be an object, got {type(detections).__name__}")
    whatsapp = detections.get("whatsapp")
    if isinstance(whatsapp, Mapping):
        detected = whatsapp.get("verificationCode")
        if isinstance(detected, bool) or not isinstance(detected, (str, int, type(None))):
            raise ValueError(f"SMS {sms_id}: detections.whatsapp.verificationCode must be a string")
        digits = "".join(ch for ch in str(detected or "") if ch.isdigit())
        if digits:
            return digits
    elif whatsapp is not None:
        raise ValueError(f"SMS {sms_id}: detections.whatsapp must be an object")
    elif detections:
        # Salvy recognised another service's SMS (a Google or bank code): its digits are not ours.
        return ""
    return extract_whatsapp_code(message)


def _event_data(payload: Mapping[str, Any], accepted_types: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(payload, Mapping):
        raise ValueError(f"Salvy webhook body must be a JSON object, got {type(payload).__name__}")
    event_type = payload.get("type")
    if event_type not in accepted_types:
        raise ValueError(f"expected a Salvy {' / '.join(accepted_types)} event, got type {event_type!r}")
    data = payload.get("data")
    if not isinstance(data, Mapping):
        raise ValueError(f"Salvy {event_type} event without a 'data' object")
    return data


def _account_id(data: Mapping[str, Any]) -> str:
    # `virtualPhoneAccountId` is deprecated and mirrors `phoneAccountId`; old bodies have only it.
    for key in ("phoneAccountId", "virtualPhoneAccountId"):
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise ValueError(f"'{key}' must be a string, got {type(value).__name__}")
        if value:
            return value
    raise ValueError("Salvy event without 'phoneAccountId' (or the older 'virtualPhoneAccountId')")


def _timestamp(data: Mapping[str, Any], key: str) -> datetime | None:
    return parse_timestamp(data.get(key), f"'{key}'")


def _optional_str(data: Mapping[str, Any], key: str, sms_id: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"SMS {sms_id}: '{key}' must be a string, got {type(value).__name__}")
    return value
