"""Typed readers for loose webhook JSON values, shared by the gateway adapters.

Gateways send numbers as strings, strings as numbers and timestamps in seconds, milliseconds or as
protobuf Longs; these helpers turn such a value into the one type an event field wants, or into
an empty value when it cannot be read. None of them raises.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

# An epoch above this is in milliseconds: 10**11 seconds is the year 5138, 10**11 ms is 1973.
MILLISECONDS_ABOVE = 10**11


def as_str(value: Any) -> str:
    """The value when it is a string, else ""."""
    return value if isinstance(value, str) else ""


def as_text(value: Any) -> str:
    """A string as it is, a number written out (30, 12.5), anything else (booleans included) as ""."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return ""


def as_float(value: Any) -> float | None:
    """A number or numeric string as a float; None for anything else (booleans included)."""
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def epoch_seconds(value: Any) -> int | None:
    """Whole epoch seconds from a timestamp, or None when it is not a usable point in time.

    Accepts an int or float, a numeric string (protobufjs writes 64-bit numbers as strings) and a
    protobuf Long `{"low": .., "high": .., "unsigned": ..}`. Values above 10**11 are milliseconds.
    Booleans, zero, negative numbers and instants `datetime` cannot hold give None.
    """
    number = _number(value)
    if number is None:
        return None
    if number > MILLISECONDS_ABOVE:
        number //= 1000
    seconds = int(number)
    if seconds <= 0:
        return None
    try:
        datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return seconds


def epoch_datetime(value: Any) -> datetime | None:
    """The aware UTC datetime of a timestamp `epoch_seconds` reads, or None."""
    seconds = epoch_seconds(value)
    return datetime.fromtimestamp(seconds, tz=UTC) if seconds is not None else None


def _number(value: Any) -> int | float | None:
    """A finite int or float from a number, a numeric string or a protobuf Long."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Mapping):  # long.js Long: the high and low 32 bits
        try:
            return (int(value.get("high", 0)) << 32) + (int(value.get("low", 0)) & 0xFFFFFFFF)
        except (TypeError, ValueError):
            return None
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                value = float(value)
            except ValueError:
                return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    return None
