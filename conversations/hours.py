"""Business hours of a profile: is someone there now, and when will someone be.

`AgentProfile.business_hours` maps weekday keys (mon … sun) to lists of "HH:MM-HH:MM" ranges in
the profile's time zone; `holidays` lists ISO dates with no hours at all. An empty mapping means
always open (a profile that never set hours must not tell customers "we are closed").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Customer-facing: how the agent names the day a person will answer.
WEEKDAY_NAMES_PT = ("segunda-feira", "terça-feira", "quarta-feira", "quinta-feira", "sexta-feira", "sábado", "domingo")
LOOKAHEAD_DAYS = 14


@dataclass(frozen=True)
class OpeningState:
    is_open: bool
    next_opening: datetime | None = None  # aware, in the profile's zone; None when open or never

    def next_opening_text(self, now: datetime) -> str:
        """ "hoje às 14:00", "amanhã às 08:00", "segunda-feira às 08:00" — '' when unknown."""
        if self.is_open or self.next_opening is None:
            return ""
        local_now = now.astimezone(self.next_opening.tzinfo)
        days = (self.next_opening.date() - local_now.date()).days
        clock = self.next_opening.strftime("%H:%M")
        if days == 0:
            return f"hoje às {clock}"
        if days == 1:
            return f"amanhã às {clock}"
        if days < 7:
            return f"{WEEKDAY_NAMES_PT[self.next_opening.weekday()]} às {clock}"
        return f"dia {self.next_opening:%d/%m} às {clock}"


def opening_state(*, business_hours: dict, holidays: list, time_zone: str, now: datetime) -> OpeningState:
    if not business_hours:
        return OpeningState(is_open=True)
    zone = _zone(time_zone)
    local_now = now.astimezone(zone)
    closed_days = {_as_date(item) for item in holidays or []}
    for offset in range(LOOKAHEAD_DAYS + 1):
        day = local_now.date() + timedelta(days=offset)
        if day in closed_days:
            continue
        for start, end in _ranges(business_hours.get(WEEKDAYS[day.weekday()], [])):
            opens = datetime.combine(day, start, tzinfo=zone)
            closes = datetime.combine(day, end, tzinfo=zone)
            if opens <= local_now < closes:
                return OpeningState(is_open=True)
            if local_now < opens:
                return OpeningState(is_open=False, next_opening=opens)
    return OpeningState(is_open=False)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "America/Sao_Paulo")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("America/Sao_Paulo")


def _as_date(value) -> date | None:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def _ranges(items) -> list[tuple[time, time]]:
    """Valid "HH:MM-HH:MM" ranges in order; malformed ones are skipped rather than breaking a turn."""
    ranges = []
    for item in items if isinstance(items, list) else [items]:
        try:
            start_text, end_text = str(item).split("-", 1)
            start, end = time.fromisoformat(start_text.strip()), time.fromisoformat(end_text.strip())
        except ValueError:
            continue
        if start < end:
            ranges.append((start, end))
    return sorted(ranges)
