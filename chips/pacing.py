"""Warm-up and pacing: how much, how fast and when a chip may send.

Three rules keep a number from looking like a spammer to WhatsApp:

- a daily cap of proactive sends that ramps with the chip's age (CHIP_WARMUP_PLAN, then
  CHIP_DAILY_CAP; `Chip.daily_cap` overrides both), counted per local day (CHIP_TIME_ZONE);
- quiet hours (CHIP_QUIET_HOURS) without proactive sends;
- a minimum interval plus random jitter between any two sends of one chip.

The cap and quiet hours apply only to proactive messages (`Message.proactive`: we started the
exchange, e.g. a follow-up). A reply to a customer who just wrote is never refused by them: ban risk
comes from unsolicited volume, which is what the cap and quiet hours measure, while a customer who
wrote expects an answer now — dropping or parking a reply loses the lead and protects nothing. A
reply still waits for its pacing slot: bursts of sends at machine speed are a bot signature
whoever started the conversation.

chips sits below conversations (DESIGN.md §3): conversations.outbound imports this module, so the
message table is reached through the app registry inside the functions that count, never by a
module-level import of conversations.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from chips.lifecycle import ChipStatus
from chips.models import Chip

# Chips that may carry proactive work: warmed (ready/active) or warming under the ramp's cap.
PROACTIVE_STATUSES = (ChipStatus.READY, ChipStatus.ACTIVE, ChipStatus.WARMING)
PLAN_EXAMPLE = "0:20,3:50,7:100,14:200"


class PacingSlotTooFar(Exception):
    """The chip's next send slot is further away than the caller is willing to wait; nothing was reserved."""

    def __init__(self, at: datetime):
        super().__init__(f"the chip's next send slot is at {at.isoformat()}")
        self.at = at


@dataclass(frozen=True)
class Postponement:
    """A proactive send that must wait: why, and the earliest moment worth trying again."""

    reason: str
    until: datetime


# --- configuration ---------------------------------------------------------------------------------


def warmup_plan() -> list[tuple[int, int]]:
    """CHIP_WARMUP_PLAN as (day, cap) steps sorted by day: "0:20,3:50" → [(0, 20), (3, 50)].

    A chip is on the step of the last day it has reached (before the first step's day, on the first
    step); after the last step's day it gets CHIP_DAILY_CAP.
    """
    raw = settings.CHIP_WARMUP_PLAN
    steps: dict[int, int] = {}
    if not raw.strip():
        return []  # no ramp: CHIP_DAILY_CAP from the start
    for item in (part.strip() for part in raw.split(",")):
        day, _, cap = item.partition(":")
        try:
            day_number, cap_number = int(day), int(cap)
        except ValueError:
            raise ImproperlyConfigured(
                f"CHIP_WARMUP_PLAN: {item!r} is not day:cap (expected e.g. {PLAN_EXAMPLE!r}, got {raw!r})"
            ) from None
        if day_number < 0 or cap_number < 0:
            raise ImproperlyConfigured(f"CHIP_WARMUP_PLAN: {item!r} has a negative day or cap (got {raw!r})")
        if day_number in steps:
            raise ImproperlyConfigured(f"CHIP_WARMUP_PLAN: day {day_number} appears twice (got {raw!r})")
        steps[day_number] = cap_number
    return sorted(steps.items())


def chip_time_zone() -> ZoneInfo:
    try:
        return ZoneInfo(settings.CHIP_TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(
            f"CHIP_TIME_ZONE: {settings.CHIP_TIME_ZONE!r} is not a time zone name (e.g. 'America/Sao_Paulo')"
        ) from None


def quiet_hours() -> tuple[time, time] | None:
    """CHIP_QUIET_HOURS "21:00-08:00" as (start, end) local times; None when empty (no quiet hours)."""
    raw = settings.CHIP_QUIET_HOURS.strip()
    if not raw:
        return None
    start, _, end = raw.partition("-")
    try:
        bounds = (time.fromisoformat(start.strip()), time.fromisoformat(end.strip()))
    except ValueError:
        raise ImproperlyConfigured(
            f"CHIP_QUIET_HOURS: {raw!r} is not HH:MM-HH:MM (e.g. '21:00-08:00'; empty for none)"
        ) from None
    if bounds[0] == bounds[1]:
        raise ImproperlyConfigured(
            f"CHIP_QUIET_HOURS: {raw!r} starts and ends at the same time; leave it empty for no quiet hours"
        )
    return bounds


# --- the warm-up ramp and the daily cap ------------------------------------------------------------------


def _local_date(moment: datetime) -> date:
    return moment.astimezone(chip_time_zone()).date()


def warmup_day(chip: Chip, now: datetime) -> int | None:
    """Days since warm-up began, in local calendar days (the day it began is day 0); None before it began."""
    if chip.warmup_started_at is None:
        return None
    return max(0, (_local_date(now) - _local_date(chip.warmup_started_at)).days)


def daily_cap(chip: Chip, now: datetime) -> int:
    """How many proactive messages the chip may send on `now`'s local day."""
    if chip.daily_cap is not None:
        return chip.daily_cap
    plan = warmup_plan()
    day = warmup_day(chip, now)
    if day is None:  # not warming yet: the most careful step
        return plan[0][1] if plan else settings.CHIP_DAILY_CAP
    if not plan or day > plan[-1][0]:
        return settings.CHIP_DAILY_CAP
    cap = plan[0][1]
    for step_day, step_cap in plan:
        if day >= step_day:
            cap = step_cap
    return cap


def warmup_complete(chip: Chip, now: datetime) -> bool:
    """The chip has reached the plan's last day (an empty plan needs no warm-up, only a start)."""
    day = warmup_day(chip, now)
    if day is None:
        return False
    plan = warmup_plan()
    return day >= (plan[-1][0] if plan else 0)


def local_day_bounds(now: datetime) -> tuple[datetime, datetime]:
    """Start of `now`'s local day and of the next one, as aware datetimes."""
    zone = chip_time_zone()
    today = now.astimezone(zone).date()
    return datetime.combine(today, time.min, tzinfo=zone), datetime.combine(
        today + timedelta(days=1), time.min, tzinfo=zone
    )


def _proactive_sent_today(chip_ids: list[int], now: datetime):
    message = apps.get_model("conversations", "Message")
    start, end = local_day_bounds(now)
    return message.objects.filter(
        chip_id__in=chip_ids, direction="out", proactive=True, sent_at__gte=start, sent_at__lt=end
    ).order_by()


def sends_today(chip_id: int, now: datetime) -> int:
    """Proactive messages the chip has sent on `now`'s local day (replies are not counted)."""
    return _proactive_sent_today([chip_id], now).count()


def sends_today_by_chip(chip_ids: list[int], now: datetime) -> dict[int, int]:
    """`sends_today` for many chips in one query; chips that sent nothing are absent."""
    if not chip_ids:
        return {}
    rows = _proactive_sent_today(chip_ids, now).values("chip_id").annotate(sent=Count("pk"))
    return {row["chip_id"]: row["sent"] for row in rows}


# --- quiet hours --------------------------------------------------------------------------------------


def in_quiet_hours(now: datetime) -> bool:
    bounds = quiet_hours()
    if bounds is None:
        return False
    start, end = bounds
    clock = now.astimezone(chip_time_zone()).time()
    if start < end:
        return start <= clock < end
    return clock >= start or clock < end  # the window wraps midnight


def quiet_hours_end(now: datetime) -> datetime:
    """The first moment after `now` at which quiet hours end (the next local end time)."""
    bounds = quiet_hours()
    if bounds is None:
        return now
    zone = chip_time_zone()
    local = now.astimezone(zone)
    end = datetime.combine(local.date(), bounds[1], tzinfo=zone)
    return end if end > local else datetime.combine(local.date() + timedelta(days=1), bounds[1], tzinfo=zone)


def _outside_quiet_hours(moment: datetime) -> datetime:
    return quiet_hours_end(moment) if in_quiet_hours(moment) else moment


# --- the proactive gate ---------------------------------------------------------------------------------


def proactive_postponement(chip: Chip, now: datetime) -> Postponement | None:
    """Why a proactive message of this chip must wait now, and until when; None when it may go."""
    zone = chip_time_zone()
    if in_quiet_hours(now):
        until = quiet_hours_end(now)
        return Postponement(
            reason=f"quiet hours ({settings.CHIP_QUIET_HOURS} {zone.key}): proactive messages wait until "
            f"{until.astimezone(zone):%H:%M}",
            until=until,
        )
    cap = daily_cap(chip, now)
    sent = sends_today(chip.pk, now)
    if sent >= cap:
        until = _outside_quiet_hours(local_day_bounds(now)[1])
        return Postponement(
            reason=f"daily cap reached: {sent} of {cap} proactive messages sent today; next try "
            f"{until.astimezone(zone):%Y-%m-%d %H:%M} {zone.key}",
            until=until,
        )
    return None


def proactive_allowed(chip: Chip, now: datetime) -> str:
    """'' when the chip may send a proactive message now, else the reason it may not."""
    postponement = proactive_postponement(chip, now)
    return postponement.reason if postponement else ""


def chip_for_proactive(*, profile_id: int | None = None, now: datetime | None = None) -> Chip | None:
    """A chip to start a conversation on: in service and warmed or warming, with cap left today.

    Least loaded first, by the share of today's cap already used (a warming chip with a cap of 20
    that sent 10 is busier than a warmed one that sent 100 of 500), then by fewest sends. With a
    profile, only chips that speak for it (a chip without an assignment speaks for the default
    profile). Quiet hours are not considered: the send gate holds the message until they end.
    """
    now = now or timezone.now()
    chips = Chip.objects.filter(status__in=PROACTIVE_STATUSES, gateway__is_active=True)
    if profile_id is not None:
        chips = chips.filter(_speaks_for(profile_id))
    chips = list(chips)
    sent = sends_today_by_chip([chip.pk for chip in chips], now)
    best: tuple[float, int, int] | None = None
    chosen = None
    for chip in chips:
        cap, used = daily_cap(chip, now), sent.get(chip.pk, 0)
        if used >= cap:
            continue
        load = (used / cap, used, chip.pk)
        if best is None or load < best:
            best, chosen = load, chip
    return chosen


def _speaks_for(profile_id: int) -> Q:
    profile_chip = apps.get_model("conversations", "ProfileChip")
    agent_profile = apps.get_model("conversations", "AgentProfile")
    assigned = Q(pk__in=profile_chip.objects.filter(profile_id=profile_id).values("chip_id"))
    if agent_profile.objects.filter(pk=profile_id, is_default=True).exists():
        return assigned | ~Q(pk__in=profile_chip.objects.values("chip_id"))
    return assigned


# --- the pacing slot ----------------------------------------------------------------------------------


def pacing_enabled() -> bool:
    return settings.CHIP_SEND_INTERVAL_SECONDS > 0 or settings.CHIP_SEND_JITTER_SECONDS > 0


def _gap() -> timedelta:
    interval = max(0.0, settings.CHIP_SEND_INTERVAL_SECONDS)
    jitter = max(0.0, settings.CHIP_SEND_JITTER_SECONDS)
    return timedelta(seconds=interval + random.uniform(0, jitter))


def pacing_reserve(*, chip_id: int, now: datetime | None = None, max_wait: timedelta | None = None) -> datetime:
    """Reserve the chip's next send slot: returns when this send may go, and moves the chip's
    `next_send_at` on by the interval plus a random jitter.

    The chip row is locked while it is read and moved, so concurrent senders of one chip queue on
    the lock and get distinct slots at least the interval apart (PostgreSQL: SELECT ... FOR UPDATE;
    SQLite: the IMMEDIATE transaction takes the write lock up front). With `max_wait`, a slot
    further away than that is not reserved: PacingSlotTooFar tells when to come back. That keeps
    `next_send_at` within reach of the present, so whoever comes back then is not pushed further
    by slots that nobody used. With pacing off (interval and jitter 0) nothing is read or written.
    """
    if not pacing_enabled():
        return now or timezone.now()
    with transaction.atomic():
        next_send_at = Chip.objects.select_for_update().filter(pk=chip_id).values_list("next_send_at", flat=True).get()
        moment = now or timezone.now()  # read after the lock: time spent queueing for it has passed
        slot = max(moment, next_send_at) if next_send_at else moment
        if max_wait is not None and slot - moment > max_wait:
            raise PacingSlotTooFar(slot)
        Chip.objects.filter(pk=chip_id).update(next_send_at=slot + _gap())
    return slot
