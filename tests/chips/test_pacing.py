"""Warm-up ramp, daily caps, quiet hours, the choice of a chip for proactive work, and the pacing slot."""

from __future__ import annotations

import threading
import time as clock
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.utils import timezone

from chips import pacing
from chips.lifecycle import ChipStatus
from chips.models import Chip
from chips.pacing import (
    PacingSlotTooFar,
    chip_for_proactive,
    daily_cap,
    in_quiet_hours,
    pacing_reserve,
    proactive_allowed,
    proactive_postponement,
    sends_today,
    sends_today_by_chip,
    warmup_complete,
    warmup_plan,
)
from conversations.models import AgentProfile, ProfileChip
from conversations.routing import default_profile
from tests.factories import ChipFactory, OutboundMessageFactory

pytestmark = pytest.mark.django_db

SAO_PAULO = ZoneInfo("America/Sao_Paulo")


def local(*args) -> datetime:
    """A moment given in São Paulo time (UTC-3 all year since 2019)."""
    return datetime(*args, tzinfo=SAO_PAULO)


@pytest.fixture(autouse=True)
def fleet_settings(settings):
    settings.CHIP_WARMUP_PLAN = "0:20,3:50,7:100,14:200"
    settings.CHIP_DAILY_CAP = 500
    settings.CHIP_TIME_ZONE = "America/Sao_Paulo"
    settings.CHIP_QUIET_HOURS = "21:00-08:00"


def proactive_sent(chip, at: datetime, **kwargs):
    return OutboundMessageFactory(
        chip=chip, conversation__chip=chip, proactive=True, status="sent", status_rank=20, sent_at=at, **kwargs
    )


# --- the warm-up plan and the daily cap ---------------------------------------------------------------


def test_the_plan_is_read_as_sorted_day_cap_steps(settings):
    settings.CHIP_WARMUP_PLAN = " 7:100, 0:20 ,3:50"
    assert warmup_plan() == [(0, 20), (3, 50), (7, 100)]


@pytest.mark.parametrize(
    ("plan", "complaint"),
    [
        ("0:20,three:50", "'three:50' is not day:cap"),
        ("0-20", "'0-20' is not day:cap"),
        ("0:20,0:30", "day 0 appears twice"),
        ("0:20,-3:50", "negative"),
    ],
)
def test_a_bad_plan_is_a_clear_configuration_error(settings, plan, complaint):
    settings.CHIP_WARMUP_PLAN = plan
    with pytest.raises(ImproperlyConfigured, match="CHIP_WARMUP_PLAN") as error:
        warmup_plan()
    assert complaint in str(error.value)


@pytest.mark.parametrize(
    ("day", "cap"),
    [(0, 20), (2, 20), (3, 50), (6, 50), (7, 100), (13, 100), (14, 200), (15, 500), (90, 500)],
)
def test_the_cap_ramps_with_the_days_since_warm_up_began(day, cap):
    started = local(2026, 3, 2, 10, 0)
    chip = ChipFactory(status=ChipStatus.WARMING, warmup_started_at=started)
    assert daily_cap(chip, started + timedelta(days=day, hours=1)) == cap


def test_a_chip_not_warming_yet_gets_the_first_step():
    chip = ChipFactory(status=ChipStatus.PENDING, warmup_started_at=None)
    assert daily_cap(chip, timezone.now()) == 20
    assert not warmup_complete(chip, timezone.now())


def test_the_chips_own_cap_overrides_the_plan():
    chip = ChipFactory(warmup_started_at=local(2026, 3, 2, 10, 0), daily_cap=7)
    assert daily_cap(chip, local(2026, 3, 2, 11, 0)) == 7
    assert daily_cap(chip, local(2026, 6, 2, 11, 0)) == 7


def test_warm_up_days_are_local_calendar_days():
    # Began at 23:30 in São Paulo; at 00:10 three local days later it is day 3, though only 48 h 40 min passed.
    chip = ChipFactory(status=ChipStatus.WARMING, warmup_started_at=local(2026, 3, 10, 23, 30))
    assert daily_cap(chip, local(2026, 3, 13, 0, 10)) == 50
    assert daily_cap(chip, local(2026, 3, 12, 23, 50)) == 20


def test_warm_up_is_complete_on_the_plans_last_day():
    chip = ChipFactory(status=ChipStatus.WARMING, warmup_started_at=local(2026, 3, 1, 9, 0))
    assert not warmup_complete(chip, local(2026, 3, 14, 23, 59))
    assert warmup_complete(chip, local(2026, 3, 15, 0, 0))


def test_sends_today_counts_proactive_sends_of_the_local_day_only():
    chip = ChipFactory()
    now = local(2026, 3, 10, 15, 0)
    proactive_sent(chip, local(2026, 3, 10, 0, 1))
    proactive_sent(chip, local(2026, 3, 10, 14, 0))
    proactive_sent(chip, local(2026, 3, 9, 23, 59))  # yesterday, though less than 24 h ago
    OutboundMessageFactory(chip=chip, conversation__chip=chip, status="sent", sent_at=local(2026, 3, 10, 9, 0))
    OutboundMessageFactory(chip=chip, conversation__chip=chip, proactive=True)  # still pending: not sent
    other = ChipFactory()
    proactive_sent(other, local(2026, 3, 10, 9, 0))

    assert sends_today(chip.pk, now) == 2
    assert sends_today_by_chip([chip.pk, other.pk, ChipFactory().pk], now) == {chip.pk: 2, other.pk: 1}


# --- quiet hours ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "quiet"),
    [
        (local(2026, 3, 10, 20, 59), False),
        (local(2026, 3, 10, 21, 0), True),
        (local(2026, 3, 10, 23, 59), True),
        (local(2026, 3, 11, 3, 0), True),
        (local(2026, 3, 11, 7, 59), True),
        (local(2026, 3, 11, 8, 0), False),
        (local(2026, 3, 11, 12, 0), False),
    ],
)
def test_quiet_hours_may_wrap_midnight(moment, quiet):
    assert in_quiet_hours(moment) is quiet
    assert in_quiet_hours(moment.astimezone(UTC)) is quiet  # the same moment, whatever its zone


def test_quiet_hours_within_one_day(settings):
    settings.CHIP_QUIET_HOURS = "12:00-13:30"
    assert in_quiet_hours(local(2026, 3, 10, 12, 45))
    assert not in_quiet_hours(local(2026, 3, 10, 13, 30))
    assert not in_quiet_hours(local(2026, 3, 10, 23, 0))


def test_no_quiet_hours_when_empty(settings):
    settings.CHIP_QUIET_HOURS = ""
    assert not in_quiet_hours(local(2026, 3, 10, 3, 0))


@pytest.mark.parametrize("value", ["21h-8h", "21:00", "25:00-08:00", "08:00-08:00"])
def test_bad_quiet_hours_are_a_clear_configuration_error(settings, value):
    settings.CHIP_QUIET_HOURS = value
    with pytest.raises(ImproperlyConfigured, match="CHIP_QUIET_HOURS"):
        in_quiet_hours(local(2026, 3, 10, 3, 0))


# --- the proactive gate -----------------------------------------------------------------------------------


def test_a_proactive_send_in_quiet_hours_waits_until_they_end():
    chip = ChipFactory()
    postponement = proactive_postponement(chip, local(2026, 3, 10, 22, 15))
    assert postponement.until == local(2026, 3, 11, 8, 0)
    assert "quiet hours" in postponement.reason and "08:00" in postponement.reason
    assert proactive_allowed(chip, local(2026, 3, 11, 3, 0)).startswith("quiet hours")
    assert proactive_postponement(chip, local(2026, 3, 11, 6, 0)).until == local(2026, 3, 11, 8, 0)


def test_a_chip_at_its_cap_waits_for_the_next_day_outside_quiet_hours():
    chip = ChipFactory(daily_cap=2)
    now = local(2026, 3, 10, 15, 0)
    proactive_sent(chip, local(2026, 3, 10, 9, 0))
    assert proactive_allowed(chip, now) == ""

    proactive_sent(chip, local(2026, 3, 10, 10, 0))
    postponement = proactive_postponement(chip, now)
    assert postponement.reason.startswith("daily cap reached: 2 of 2 proactive messages sent today")
    # Midnight falls in quiet hours (21:00-08:00): the next try is when they end.
    assert postponement.until == local(2026, 3, 11, 8, 0)


def test_a_capped_chip_without_quiet_hours_tries_again_at_local_midnight(settings):
    settings.CHIP_QUIET_HOURS = ""
    chip = ChipFactory(daily_cap=1)
    proactive_sent(chip, local(2026, 3, 10, 9, 0))
    assert proactive_postponement(chip, local(2026, 3, 10, 15, 0)).until == local(2026, 3, 11, 0, 0)


# --- choosing a chip for proactive work ---------------------------------------------------------------------


def test_the_least_loaded_healthy_chip_with_capacity_is_chosen():
    now = local(2026, 3, 10, 15, 0)
    warming = ChipFactory(status=ChipStatus.WARMING, warmup_started_at=now - timedelta(days=1))  # cap 20
    active = ChipFactory(status=ChipStatus.ACTIVE, daily_cap=500)
    for hour in range(10):
        proactive_sent(warming, local(2026, 3, 10, 9, hour))
    for minute in range(50):
        proactive_sent(active, local(2026, 3, 10, 10, minute))
    # Out of the running whatever their load: unhealthy, not connected yet, or at their cap.
    for status in (ChipStatus.DEGRADED, ChipStatus.BANNED, ChipStatus.CANCELLED, ChipStatus.PENDING):
        ChipFactory(status=status)
    full = ChipFactory(status=ChipStatus.READY, daily_cap=1)
    proactive_sent(full, local(2026, 3, 10, 11, 0))
    ChipFactory(status=ChipStatus.READY, gateway__is_active=False)

    # 50 of 500 (10 %) is less loaded than 10 of 20 (50 %).
    assert chip_for_proactive(now=now) == active

    idle = ChipFactory(status=ChipStatus.READY)
    assert chip_for_proactive(now=now) == idle


def test_no_chip_when_every_one_is_at_its_cap_or_unhealthy():
    now = local(2026, 3, 10, 15, 0)
    ChipFactory(status=ChipStatus.DEGRADED)
    full = ChipFactory(status=ChipStatus.ACTIVE, daily_cap=1)
    proactive_sent(full, local(2026, 3, 10, 11, 0))
    assert chip_for_proactive(now=now) is None


def test_a_profile_gets_its_own_chips_and_the_default_one_the_unassigned():
    now = local(2026, 3, 10, 15, 0)
    default = default_profile()
    other = AgentProfile.objects.create(name="Outra", company_name="Outra Ltda")
    unassigned = ChipFactory(status=ChipStatus.READY)
    theirs = ChipFactory(status=ChipStatus.READY)
    ProfileChip.objects.create(profile=other, chip=theirs)
    proactive_sent(unassigned, local(2026, 3, 10, 9, 0))  # busier than `theirs`

    assert chip_for_proactive(profile_id=other.pk, now=now) == theirs
    assert chip_for_proactive(profile_id=default.pk, now=now) == unassigned
    ProfileChip.objects.filter(chip=theirs).delete()
    assert chip_for_proactive(profile_id=other.pk, now=now) is None


# --- the pacing slot ------------------------------------------------------------------------------------------


@pytest.fixture
def paced(settings):
    settings.CHIP_SEND_INTERVAL_SECONDS = 3
    settings.CHIP_SEND_JITTER_SECONDS = 2


def test_each_reservation_moves_the_next_slot_by_the_interval_plus_jitter(paced):
    chip = ChipFactory()
    now = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)

    first = pacing_reserve(chip_id=chip.pk, now=now)
    second = pacing_reserve(chip_id=chip.pk, now=now)
    third = pacing_reserve(chip_id=chip.pk, now=now)

    assert first == now
    assert timedelta(seconds=3) <= second - first <= timedelta(seconds=5)
    assert timedelta(seconds=3) <= third - second <= timedelta(seconds=5)
    chip.refresh_from_db()
    assert timedelta(seconds=3) <= chip.next_send_at - third <= timedelta(seconds=5)


def test_a_slot_in_the_past_does_not_hold_a_send_back(paced):
    now = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
    chip = ChipFactory(next_send_at=now - timedelta(minutes=5))
    assert pacing_reserve(chip_id=chip.pk, now=now) == now


def test_a_slot_further_than_the_caller_waits_is_not_reserved(paced):
    now = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
    chip = ChipFactory(next_send_at=now + timedelta(seconds=30))

    with pytest.raises(PacingSlotTooFar) as far:
        pacing_reserve(chip_id=chip.pk, now=now, max_wait=timedelta(seconds=8))

    assert far.value.at == now + timedelta(seconds=30)
    chip.refresh_from_db()
    assert chip.next_send_at == now + timedelta(seconds=30)  # nothing reserved
    assert pacing_reserve(chip_id=chip.pk, now=now, max_wait=timedelta(seconds=60)) == now + timedelta(seconds=30)


def test_without_pacing_nothing_is_reserved(settings):
    settings.CHIP_SEND_INTERVAL_SECONDS = 0
    settings.CHIP_SEND_JITTER_SECONDS = 0
    now = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
    chip = ChipFactory(next_send_at=now + timedelta(seconds=30))
    assert pacing_reserve(chip_id=chip.pk, now=now) == now
    assert Chip.objects.get(pk=chip.pk).next_send_at == now + timedelta(seconds=30)


def reserve_from_two_threads(monkeypatch, chip_id: int, per_thread: int) -> list[datetime]:
    """Two workers reserving slots for one chip at the same time; every slot they got."""
    real_gap = pacing._gap

    def slow_gap():
        clock.sleep(0.01)  # widen the window between reading the slot and moving it on
        return real_gap()

    monkeypatch.setattr(pacing, "_gap", slow_gap)
    start = threading.Barrier(2)
    slots: list[datetime] = []
    errors: list[BaseException] = []

    def worker():
        try:
            start.wait()
            for _ in range(per_thread):
                slots.append(pacing_reserve(chip_id=chip_id))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    return slots


def assert_distinct_slots_an_interval_apart(slots: list[datetime], count: int, interval: float) -> None:
    assert len(slots) == count
    ordered = sorted(slots)
    gaps = [(later - earlier).total_seconds() for earlier, later in pairwise(ordered)]
    assert min(gaps) >= interval, gaps


@pytest.mark.django_db(transaction=True)
def test_two_workers_get_distinct_slots_an_interval_apart(settings, monkeypatch):
    settings.CHIP_SEND_INTERVAL_SECONDS = 1
    settings.CHIP_SEND_JITTER_SECONDS = 0.5
    chip = ChipFactory()
    slots = reserve_from_two_threads(monkeypatch, chip.pk, per_thread=8)
    assert_distinct_slots_an_interval_apart(slots, 16, 1.0)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_get_distinct_slots_an_interval_apart_on_postgresql(settings, monkeypatch):
    settings.CHIP_SEND_INTERVAL_SECONDS = 1
    settings.CHIP_SEND_JITTER_SECONDS = 0.5
    chip = ChipFactory()
    slots = reserve_from_two_threads(monkeypatch, chip.pk, per_thread=8)
    assert_distinct_slots_an_interval_apart(slots, 16, 1.0)
