"""Health of each chip: what it sent and what became of it, a score for operators, and the beat check.

Figures per chip, for the last 24 hours and the last 7 days, read from the message table:

- sent: outbound messages that left through the gateway (`sent_at` set), whoever wrote them;
- delivered / read: of those, the ones WhatsApp reported delivered (or further) / read (or played);
- failed: of those, the ones WhatsApp reported failed after accepting them. A message the send
  gate or the gateway refused never left the number: it says nothing about the number's health;
- replies: messages received from contacts.

The score (0-100, on the 7-day figures) weighs what WhatsApp's reaction to a number looks like:
half delivery rate, 30 % absence of failures, 20 % replies (one reply per TARGET_REPLY_RATE sends
counts as fully engaged). A number whose messages are not delivered, fail, or are never answered is
the one heading for a ban. Below MIN_SENT_FOR_SCORE sends there is too little to judge: the chip
gets a neutral score (fair), so a new chip is not branded poor. A gateway that never reports
delivery (no delivered, read or failed at all) gets a neutral delivery part instead of zero.

chips sits below conversations (DESIGN.md §3), and conversations imports chips: the message model
and its status vocabulary are reached through the app registry and imports inside the functions,
at call time, never at import time of this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from django.apps import apps
from django.db.models import Count, Q
from django.utils import timezone

from chips.lifecycle import ChipStatus
from chips.models import AlertSeverity, Chip, ChipAlert, Gateway, SessionState
from chips.pacing import warmup_complete, warmup_day
from chips.services import TransitionNotAllowed, alert_raise, alert_resolve, chip_transition
from integrations.providers.base import Provider, ProviderError
from integrations.providers.registry import provider_class

log = structlog.get_logger(__name__)

MIN_SENT_FOR_SCORE = 20
NEUTRAL_SCORE = 60
NEUTRAL_DELIVERY_RATE = 0.6
TARGET_REPLY_RATE = 0.25
GOOD_SCORE = 75
FAIR_SCORE = 45

# Delivery collapse: enough sends in 24 h to judge, and at least this share of them failed.
COLLAPSE_MIN_SENT = 10
COLLAPSE_FAILURE_RATE = 0.5

# Chips whose connection the health check reads (a banned or cancelled one has nothing to check).
CHECKED_STATUSES = (
    ChipStatus.PENDING,
    ChipStatus.WARMING,
    ChipStatus.READY,
    ChipStatus.ACTIVE,
    ChipStatus.DEGRADED,
)
TRIGGERED_BY = "task:health_check"
DELIVERY_COLLAPSE_ALERT = "delivery_collapse"
SESSION_CHECK_ALERT = "session_check_failed"
GATEWAY_ALERT_PREFIX = "gateway_unreachable:"


@dataclass(frozen=True)
class ChipHealth:
    chip_id: int
    sent_24h: int = 0
    delivered_24h: int = 0
    read_24h: int = 0
    failed_24h: int = 0
    replies_24h: int = 0
    sent_7d: int = 0
    delivered_7d: int = 0
    read_7d: int = 0
    failed_7d: int = 0
    replies_7d: int = 0
    score: int = NEUTRAL_SCORE
    label: str = "fair"  # good, fair or poor
    enough_traffic: bool = False  # False: the score is the neutral one, not a judgement

    @property
    def failure_rate_24h(self) -> float:
        return self.failed_24h / self.sent_24h if self.sent_24h else 0.0

    @property
    def delivery_collapsing(self) -> bool:
        return self.sent_24h >= COLLAPSE_MIN_SENT and self.failure_rate_24h >= COLLAPSE_FAILURE_RATE


FIGURES = ("sent", "delivered", "read", "failed", "replies")


def health_score(*, sent: int, delivered: int, read: int, failed: int, replies: int) -> tuple[int, str, bool]:
    """(score 0-100, label, enough traffic) from one window's figures; see the module docstring."""
    if sent < MIN_SENT_FOR_SCORE:
        return NEUTRAL_SCORE, health_label(NEUTRAL_SCORE), False
    reported = delivered + failed > 0  # `read` implies delivered (statuses only move forward)
    delivery = min(1.0, delivered / sent) if reported else NEUTRAL_DELIVERY_RATE
    failure = min(1.0, failed / sent)
    engagement = min(1.0, replies / sent / TARGET_REPLY_RATE)
    score = round(100 * (0.5 * delivery + 0.3 * (1 - failure) + 0.2 * engagement))
    return score, health_label(score), True


def health_label(score: int) -> str:
    if score >= GOOD_SCORE:
        return "good"
    if score >= FAIR_SCORE:
        return "fair"
    return "poor"


def chip_health_figures(chip_ids: list[int], *, now: datetime | None = None) -> dict[int, ChipHealth]:
    """Health of each chip, in one query whatever the number of chips; every asked id has an entry."""
    from conversations.statuses import OUTBOUND_RANK, Direction, MessageOrigin, MessageStatus

    message = apps.get_model("conversations", "Message")
    now = now or timezone.now()
    chip_ids = list(chip_ids)
    if not chip_ids:
        return {}
    week_ago = now - timedelta(days=7)
    left = Q(direction=Direction.OUT, sent_at__isnull=False, sent_at__lte=now)
    reply = Q(direction=Direction.IN, origin=MessageOrigin.CONTACT, created_at__lte=now)

    def window(since: datetime) -> dict[str, Count]:
        sent = left & Q(sent_at__gte=since)
        return {
            "sent": Count("pk", filter=sent),
            "delivered": Count("pk", filter=sent & Q(status_rank__gte=OUTBOUND_RANK[MessageStatus.DELIVERED])),
            "read": Count("pk", filter=sent & Q(status_rank__gte=OUTBOUND_RANK[MessageStatus.READ])),
            "failed": Count("pk", filter=sent & Q(status=MessageStatus.FAILED)),
            "replies": Count("pk", filter=reply & Q(created_at__gte=since)),
        }

    aggregates = {f"{name}_24h": count for name, count in window(now - timedelta(hours=24)).items()}
    aggregates |= {f"{name}_7d": count for name, count in window(week_ago).items()}
    rows = (
        message.objects.filter(chip_id__in=chip_ids)
        .filter((left & Q(sent_at__gte=week_ago)) | (reply & Q(created_at__gte=week_ago)))
        .order_by()  # without the model's default ordering, the GROUP BY is over chip_id alone
        .values("chip_id")
        .annotate(**aggregates)
    )
    by_chip = {row.pop("chip_id"): row for row in rows}
    figures = {}
    for chip_id in chip_ids:
        counts = by_chip.get(chip_id, {})
        score, label, enough = health_score(**{name: counts.get(f"{name}_7d", 0) for name in FIGURES})
        figures[chip_id] = ChipHealth(chip_id=chip_id, score=score, label=label, enough_traffic=enough, **counts)
    return figures


# --- the beat health check ---------------------------------------------------------------------------


def health_check_all(*, now: datetime | None = None) -> int:
    """Read every live chip's connection from its gateway, then move chips on their health.

    - Chips in pending/warming/ready/active/degraded on an active gateway that can tell their state get
      `chips.sessions.chip_session_refresh` (a disconnect or connect the gateway never sent a webhook
      for is noticed). A gateway that does not answer gets one alert, its remaining chips are left
      for the next round, and the other gateways are still checked. A chip the gateway refuses to
      describe (a permanent error) gets its own alert.
    - warming → ready when the warm-up plan is complete, the health label is not poor, and the
      session is connected (as just read, for a gateway that can tell).
    - ready/active → degraded, with a critical alert, when delivery collapses (COLLAPSE_MIN_SENT
      sends in 24 h and COLLAPSE_FAILURE_RATE of them failed). A reconnect does not undo that.

    Returns the number of chips checked: those whose connection was read, plus those on gateways
    that cannot tell a chip's state (their health figures alone are checked).
    """
    now = now or timezone.now()
    chips = list(
        Chip.objects.select_related("gateway")
        .filter(status__in=CHECKED_STATUSES, gateway__is_active=True)
        .order_by("gateway_id", "pk")
    )
    readable = [chip for chip in chips if state_readable(chip.gateway)]
    connected = _refresh_sessions(readable)
    figures = chip_health_figures([chip.pk for chip in chips], now=now)
    # Fresh rows: the refresh may just have moved a chip (connected, disconnected, banned).
    for chip in Chip.objects.select_related("gateway").filter(pk__in=[chip.pk for chip in chips]):
        if state_readable(chip.gateway) and chip.pk not in connected:
            # Not read this round: promote nothing on a stale state, but a collapse is still a collapse.
            _degrade_on_collapse(chip, figures[chip.pk])
            continue
        _apply_health(chip, figures[chip.pk], now, connected=connected.get(chip.pk, True))
    checked = len(chips) - len(readable) + len(connected)
    log.info("chips.health_checked", checked=checked, chips=len(chips))
    return checked


def _refresh_sessions(chips: list[Chip]) -> dict[int, bool]:
    """Read each chip's connection from its gateway: chip id → connected, for the chips that were read."""
    from chips.sessions import chip_session_refresh

    connected: dict[int, bool] = {}
    unreachable: set[int] = set()
    answered: dict[int, Gateway] = {}
    # Open check alerts, read once: the ones whose problem is gone are resolved below.
    open_alerts = {
        (alert.chip_id, alert.kind): alert
        for alert in ChipAlert.objects.filter(resolved_at__isnull=True).filter(
            Q(kind=SESSION_CHECK_ALERT) | Q(chip_id=None, kind__startswith=GATEWAY_ALERT_PREFIX)
        )
    }
    for chip in chips:
        if chip.gateway_id in unreachable:
            continue  # one timeout per dead gateway and round, not one per chip
        try:
            session = chip_session_refresh(chip_id=chip.pk)
        except ProviderError as exc:
            if exc.permanent:
                _session_check_failed(chip, exc)
                answered[chip.gateway_id] = chip.gateway
            else:
                unreachable.add(chip.gateway_id)
                _gateway_unreachable(chip.gateway, exc)
            continue
        connected[chip.pk] = session.state == SessionState.CONNECTED
        answered[chip.gateway_id] = chip.gateway
        _resolve(open_alerts.get((chip.pk, SESSION_CHECK_ALERT)))
    for gateway in answered.values():
        if gateway.pk not in unreachable:
            _resolve(open_alerts.get((None, _gateway_alert_kind(gateway))))
    return connected


def state_readable(gateway: Gateway) -> bool:
    """Whether the gateway can tell a chip's connection state (QR gateways, and Meta's number status)."""
    provider_cls = provider_class(gateway.kind)
    return provider_cls.sessions_managed or provider_cls.session_state is not Provider.session_state


def _apply_health(chip: Chip, health: ChipHealth, now: datetime, *, connected: bool) -> None:
    if chip.status == ChipStatus.WARMING:
        if connected and health.label != "poor" and warmup_complete(chip, now):
            _transition(
                chip,
                ChipStatus.READY,
                f"warm-up complete (day {warmup_day(chip, now)}), health {health.label} ({health.score})",
            )
        return
    _degrade_on_collapse(chip, health)


def _degrade_on_collapse(chip: Chip, health: ChipHealth) -> None:
    if chip.status not in (ChipStatus.READY, ChipStatus.ACTIVE) or not health.delivery_collapsing:
        return
    share = f"{health.failed_24h} of {health.sent_24h} messages sent in 24 h failed"
    if _transition(chip, ChipStatus.DEGRADED, f"delivery collapse: {share}"):
        alert_raise(
            chip_id=chip.pk,
            kind=DELIVERY_COLLAPSE_ALERT,
            severity=AlertSeverity.CRITICAL,
            message=f"{chip.phone} is degraded: {share}. WhatsApp may be restricting the number.",
            details={"sent_24h": health.sent_24h, "failed_24h": health.failed_24h, "score": health.score},
        )


def _transition(chip: Chip, to_status: str, reason: str) -> bool:
    try:
        moved = chip_transition(chip_id=chip.pk, to_status=to_status, reason=reason, triggered_by=TRIGGERED_BY)
    except TransitionNotAllowed as exc:  # moved meanwhile (banned, cancelled): its new status stands
        log.info("chips.health_transition_skipped", chip_id=chip.pk, to_status=to_status, error=str(exc))
        return False
    if moved:
        log.info("chips.health_transition", chip_id=chip.pk, to_status=to_status, reason=reason)
    return bool(moved)


def _gateway_alert_kind(gateway: Gateway) -> str:
    # One open alert per gateway: alerts are deduplicated by (chip, kind), and this one has no chip.
    return f"{GATEWAY_ALERT_PREFIX}{gateway.pk}"


def _gateway_unreachable(gateway: Gateway, exc: ProviderError) -> None:
    log.warning("chips.gateway_unreachable", gateway=gateway.name, error=str(exc))
    alert_raise(
        chip_id=None,
        kind=_gateway_alert_kind(gateway),
        severity=AlertSeverity.CRITICAL,
        message=f"Gateway {gateway.name} did not answer the health check: {exc}",
        details={"gateway_id": gateway.pk, "gateway": gateway.name, "error": str(exc)[:300]},
    )


def _resolve(alert: ChipAlert | None) -> None:
    if alert is not None:
        alert_resolve(alert=alert)


def _session_check_failed(chip: Chip, exc: ProviderError) -> None:
    log.warning("chips.session_check_failed", chip_id=chip.pk, error=str(exc))
    alert_raise(
        chip_id=chip.pk,
        kind=SESSION_CHECK_ALERT,
        severity=AlertSeverity.WARNING,
        message=f"The gateway could not tell the connection state of {chip.phone}: {exc}",
        details={"status_code": exc.status_code, "error": str(exc)[:300]},
    )
