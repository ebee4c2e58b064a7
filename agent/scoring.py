"""How far a lead is through qualification: answered fields, score and temperature."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.context import Profile, QualificationField


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


def score(profile: Profile, lead_fields: Mapping[str, Any]) -> int:
    """0-100: the weight of the answered fields over the total weight.

    Profiles that weigh nothing fall back to the share of answered fields, so a score still moves.
    """
    if not profile.fields:
        return 0
    answered = [field for field in profile.fields if is_answered(lead_fields.get(field.key))]
    total_weight = sum(field.weight for field in profile.fields)
    if total_weight > 0:
        ratio = sum(field.weight for field in answered) / total_weight
    else:
        ratio = len(answered) / len(profile.fields)
    return max(0, min(100, round(ratio * 100)))


def temperature(profile: Profile, lead_score: int) -> str:
    """The lead's temperature ("hot", "warm" or "cold") by the profile's thresholds."""
    if lead_score >= profile.hot_threshold:
        return "hot"
    if lead_score >= profile.warm_threshold:
        return "warm"
    return "cold"
