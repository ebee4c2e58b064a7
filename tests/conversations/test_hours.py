"""Business hours: open now, or when a person will answer."""

from datetime import datetime
from zoneinfo import ZoneInfo

from conversations.hours import opening_state

SP = ZoneInfo("America/Sao_Paulo")
WEEKDAYS_8_TO_18 = {day: ["08:00-12:00", "13:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}


def state(at: datetime, *, hours=WEEKDAYS_8_TO_18, holidays=()):
    return opening_state(business_hours=hours, holidays=list(holidays), time_zone="America/Sao_Paulo", now=at)


def test_open_inside_a_range_and_closed_at_lunch():
    assert state(datetime(2026, 11, 23, 9, 30, tzinfo=SP)).is_open  # a Monday
    lunch = datetime(2026, 11, 23, 12, 30, tzinfo=SP)
    closed = state(lunch)
    assert not closed.is_open
    assert closed.next_opening_text(lunch) == "hoje às 13:00"


def test_friday_evening_points_to_monday_morning():
    friday_night = datetime(2026, 11, 27, 20, 0, tzinfo=SP)
    closed = state(friday_night)
    assert closed.next_opening == datetime(2026, 11, 30, 8, 0, tzinfo=SP)
    assert closed.next_opening_text(friday_night) == "segunda-feira às 08:00"


def test_a_holiday_is_skipped_and_the_clock_is_the_profiles_zone():
    # 23:30 UTC on Thursday 24 Dec is 20:30 in São Paulo; the 25th is a holiday.
    christmas_eve = datetime(2026, 12, 24, 23, 30, tzinfo=ZoneInfo("UTC"))
    closed = state(christmas_eve, holidays=["2026-12-25"])
    assert closed.next_opening == datetime(2026, 12, 28, 8, 0, tzinfo=SP)


def test_tomorrow_and_no_hours_means_always_open():
    evening = datetime(2026, 11, 23, 19, 0, tzinfo=SP)
    assert state(evening).next_opening_text(evening) == "amanhã às 08:00"
    assert state(evening, hours={}).is_open


def test_malformed_ranges_are_ignored_not_fatal():
    at = datetime(2026, 11, 23, 9, 0, tzinfo=SP)
    assert state(at, hours={"mon": ["nonsense", "08:00-10:00"]}).is_open
