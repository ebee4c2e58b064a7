"""Turn a customer's free text into a typed value for one qualification field.

Every extractor returns None when it finds nothing usable, so the caller can re-ask instead of
recording noise.
"""

from __future__ import annotations

import re
from typing import Any

Number = int | float

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)

# Greetings and self-introductions that wrap a name ("Oi! Meu nome é Ana", "sou o Carlos").
# Longer alternatives come first so "sou o" wins over "sou"; backtracking keeps "sou Ana" intact.
_NAME_PREFIX = re.compile(
    r"""^\s*
    (?:(?:oi|olá|ola|opa|bom\s+dia|boa\s+tarde|boa\s+noite)\b[\s,!.]*)?
    (?:(?:o\s+)?meu\s+nome\s+(?:é|e)(?:\s+(?:o|a))?
      |me\s+chamo
      |pode\s+me\s+chamar\s+de
      |(?:eu\s+)?sou\s+(?:o|a)
      |(?:eu\s+)?sou
      |aqui\s+(?:é|e)(?:\s+(?:o|a))?
      |(?:é|e)\s+(?:o|a)
      |é
    )\s+""",
    re.IGNORECASE | re.VERBOSE,
)
# A name ends where the sentence goes on: "Ana, prazer!" -> "Ana".
_NAME_END = re.compile(r"[,.;:!?\n(]")
_NAME_PARTICLES = {"da", "de", "do", "das", "dos", "e"}
_MAX_NAME_WORDS = 5

_AMOUNT = re.compile(
    r"(?P<digits>\d+(?:[.,]\d+)*)(?!\d)(?:\s*(?P<scale>milh(?:õ|o)es|milh(?:ã|a)o|mil|mi|k)\b)?",
    re.IGNORECASE,
)
_SCALES = {"k": 1_000, "mil": 1_000, "mi": 1_000_000}


def find_email(text: str) -> str | None:
    """The first e-mail address in `text`, lower-cased, or None."""
    match = _EMAIL.search(text or "")
    if not match:
        return None
    return match.group(0).rstrip(".").lower()


def extract_name(text: str) -> str | None:
    """A person's name from an answer like "meu nome é maria souza" -> "Maria Souza"."""
    remainder = _NAME_PREFIX.sub("", (text or "").strip(), count=1)
    remainder = _NAME_END.split(remainder, maxsplit=1)[0]
    # Keep letters, hyphens and apostrophes only: digits and emoji are never part of a name.
    words = [re.sub(r"[^\w'-]|[\d_]", "", word) for word in remainder.split()]
    words = [word for word in words if word][:_MAX_NAME_WORDS]
    if not words:
        return None
    return " ".join(_capitalize_name_word(word, is_first=index == 0) for index, word in enumerate(words))


def _capitalize_name_word(word: str, *, is_first: bool) -> str:
    lowered = word.lower()
    if not is_first and lowered in _NAME_PARTICLES:
        return lowered
    return "-".join(part[:1].upper() + part[1:] for part in lowered.split("-"))


def parse_amount(text: str) -> Number | None:
    """The first amount in pt-BR free text: "R$ 1.500,00" -> 1500, "uns 2 mil" -> 2000, "10k" -> 10000."""
    match = _AMOUNT.search(text or "")
    if not match:
        return None
    value = _parse_decimal(match.group("digits"))
    if value is None:
        return None
    value *= _scale_factor(match.group("scale"))
    return int(value) if value == int(value) else round(value, 2)


def _scale_factor(scale: str | None) -> int:
    if not scale:
        return 1
    scale = scale.lower()
    if scale.startswith("milh"):
        return 1_000_000
    return _SCALES[scale]


def _parse_decimal(digits: str) -> float | None:
    """Read a number written the Brazilian way ("1.500,75") while tolerating "1,500.75" and "1.5"."""
    has_dot, has_comma = "." in digits, "," in digits
    if has_dot and has_comma:
        decimal_mark = "," if digits.rfind(",") > digits.rfind(".") else "."
        thousands_mark = "." if decimal_mark == "," else ","
        normalized = digits.replace(thousands_mark, "").replace(decimal_mark, ".")
    elif has_comma:
        # pt-BR uses the comma as the decimal mark; several commas can only be thousands groups.
        normalized = digits.replace(",", "") if digits.count(",") > 1 else digits.replace(",", ".")
    elif has_dot:
        # "1.500" and "1.500.000" are thousands groups in pt-BR; "1.5" is a decimal.
        groups = digits.split(".")
        is_thousands = len(groups) > 2 or len(groups[-1]) == 3
        normalized = digits.replace(".", "") if is_thousands else digits
    else:
        normalized = digits
    try:
        return float(normalized)
    except ValueError:
        return None


def extract_value(field_type: str, text: str) -> Any | None:
    """The value for a field of `field_type` found in `text`, or None when there is none."""
    if field_type == "name":
        return extract_name(text)
    if field_type == "email":
        return find_email(text)
    if field_type in ("number", "money"):
        return parse_amount(text)
    trimmed = (text or "").strip()
    return trimmed or None
