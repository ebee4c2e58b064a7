"""How good a lead is: answered fields weighted by the profile, and by what the answers say.

    score = 100 * Σ(weight * quality of the answer) / Σ(weight)      (0-100, rounded)

An unanswered field has quality 0; most answered fields have quality 1. Two answers are signals a
salesperson reads, and their quality follows what they say:

- budget (money fields): R$ 10.000 or more 1.0; 5.000+ 0.9; 2.000+ 0.75; 1.000+ 0.5; less 0.25; zero 0.
- timeline (date fields): deadline within 30 days (or "urgente") 1.0; 90 days 0.8; 180 days 0.5;
  later 0.2; "sem pressa"/"quando der" 0.1; words without a date 0.5.
- need: "só estou pesquisando", "por curiosidade" 0.2 (low buying intent).

Profiles that weigh nothing fall back to the same qualities over equal weights. The temperature
compares the score with the profile's hot/warm thresholds.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from agent import dates, intents, money
from agent.context import Profile, QualificationField
from agent.extraction import field_kind

# (minimum amount in BRL, quality), highest first.
BUDGET_QUALITY = ((10_000, 1.0), (5_000, 0.9), (2_000, 0.75), (1_000, 0.5), (0.01, 0.25))
# (maximum days until the deadline, quality), nearest first.
TIMELINE_QUALITY = ((30, 1.0), (90, 0.8), (180, 0.5))
FAR_TIMELINE_QUALITY = 0.2
NO_URGENCY_QUALITY = 0.1
UNDATED_TIMELINE_QUALITY = 0.5
BROWSING_QUALITY = 0.2


def is_answered(value: Any) -> bool:
    """A lead fact counts only when it holds something: None, "" and whitespace do not."""
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    return True


def unanswered_fields(profile: Profile, lead_fields: Mapping[str, Any]) -> list[QualificationField]:
    """The profile's fields still missing a value, in profile order."""
    return [field for field in profile.fields if not is_answered(lead_fields.get(field.key))]


def score(profile: Profile, lead_fields: Mapping[str, Any], *, today: date | None = None) -> int:
    """0-100 from the profile's weights and the quality of each answer (see the module docstring)."""
    if not profile.fields:
        return 0
    today = today or dates.local_today(None)
    weights = [field.weight for field in profile.fields]
    if sum(weights) <= 0:
        weights = [1] * len(profile.fields)
    earned = sum(
        weight * answer_quality(field, lead_fields.get(field.key), today)
        for field, weight in zip(profile.fields, weights, strict=True)
    )
    return max(0, min(100, round(earned / sum(weights) * 100)))


def answer_quality(field: QualificationField, value: Any, today: date) -> float:
    """0-1: how much an answer to `field` says about a buyer (0 when unanswered)."""
    if not is_answered(value):
        return 0.0
    kind = field_kind(field)
    if kind == "money":
        return budget_quality(value)
    if kind == "date":
        return timeline_quality(value, today)
    if kind == "need" and isinstance(value, str) and intents.is_browsing(value):
        return BROWSING_QUALITY
    return 1.0


def budget_quality(value: Any) -> float:
    amount = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if amount is None:
        amount = money.parse_amount(str(value))
    if amount is None:
        return 0.5  # a budget in words we cannot read ("a combinar") still says something
    for minimum, quality in BUDGET_QUALITY:
        if amount >= minimum:
            return quality
    return 0.0


def timeline_quality(value: Any, today: date) -> float:
    deadline = dates.deadline_of(value, today)
    if deadline is None:
        return NO_URGENCY_QUALITY if dates.no_urgency(str(value)) else UNDATED_TIMELINE_QUALITY
    days = (deadline - today).days
    for maximum, quality in TIMELINE_QUALITY:
        if days <= maximum:
            return quality
    return FAR_TIMELINE_QUALITY


def temperature(profile: Profile, lead_score: int) -> str:
    """The lead's temperature ("hot", "warm" or "cold") by the profile's thresholds."""
    if lead_score >= profile.hot_threshold:
        return "hot"
    if lead_score >= profile.warm_threshold:
        return "warm"
    return "cold"
