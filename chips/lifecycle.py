"""The chip lifecycle: statuses and the explicit table of allowed transitions (DESIGN.md §4)."""

from django.db import models


class ChipStatus(models.TextChoices):
    PROVISIONED = "provisioned"  # recorded, nothing else yet
    PENDING = "pending"  # number bought, not yet connected
    WARMING = "warming"  # connected, sending under the warm-up ramp
    READY = "ready"  # warmed, eligible for traffic
    ACTIVE = "active"  # carrying traffic
    DEGRADED = "degraded"  # unhealthy: disconnected, delivery collapse, breaker open
    BANNED = "banned"  # WhatsApp ban signal
    CANCELLED = "cancelled"  # number released


S = ChipStatus

ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    S.PROVISIONED: frozenset({S.PENDING, S.CANCELLED, S.BANNED}),
    S.PENDING: frozenset({S.WARMING, S.CANCELLED, S.BANNED}),
    S.WARMING: frozenset({S.READY, S.CANCELLED, S.BANNED}),
    S.READY: frozenset({S.ACTIVE, S.DEGRADED, S.BANNED}),
    S.ACTIVE: frozenset({S.DEGRADED, S.BANNED}),
    S.DEGRADED: frozenset({S.READY, S.CANCELLED, S.BANNED}),
    S.BANNED: frozenset({S.CANCELLED}),
    S.CANCELLED: frozenset(),
}

# A chip in one of these must not send or receive traffic for customers.
OUT_OF_SERVICE = frozenset({S.BANNED, S.CANCELLED})


def can_transition(from_status: str, to_status: str) -> bool:
    return to_status in ALLOWED_TRANSITIONS.get(from_status, frozenset())
