"""CNPJ (Brazilian company registry number): found in free text, check digits verified.

Stored formatted, "12.345.678/0001-95", whatever way the customer typed it ("12345678000195",
"12.345.678/0001-95", "12 345 678 0001 95"). A number whose check digits fail is not recorded: a
typo would otherwise reach the CRM as if it were true.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CANDIDATE = re.compile(r"(?<!\d)\d{2}[.\s]?\d{3}[.\s]?\d{3}[/\s]?\d{4}[-\s]?\d{2}(?!\d)")
_FIRST_WEIGHTS = (5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)
_SECOND_WEIGHTS = (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)


@dataclass(frozen=True)
class CnpjMatch:
    formatted: str
    start: int
    end: int


def find_cnpj(text: str) -> CnpjMatch | None:
    """The first valid CNPJ in `text`, formatted, or None."""
    for match in _CANDIDATE.finditer(text or ""):
        digits = re.sub(r"\D", "", match.group(0))
        if is_valid_cnpj(digits):
            return CnpjMatch(format_cnpj(digits), match.start(), match.end())
    return None


def is_valid_cnpj(digits: str) -> bool:
    """Whether 14 digits carry correct check digits (and are not one repeated digit)."""
    if len(digits) != 14 or not digits.isdigit() or len(set(digits)) == 1:
        return False
    numbers = [int(digit) for digit in digits]
    return numbers[12] == _check_digit(numbers[:12], _FIRST_WEIGHTS) and numbers[13] == _check_digit(
        numbers[:13], _SECOND_WEIGHTS
    )


def format_cnpj(digits: str) -> str:
    return f"{digits[:2]}.{digits[2:5]}.{digits[5:8]}/{digits[8:12]}-{digits[12:]}"


def _check_digit(numbers: list[int], weights: tuple[int, ...]) -> int:
    remainder = sum(number * weight for number, weight in zip(numbers, weights, strict=True)) % 11
    return 0 if remainder < 2 else 11 - remainder
