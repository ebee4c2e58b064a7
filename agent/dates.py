"""Deadlines in Brazilian Portuguese free text ("mês que vem", "até dezembro", "em 15 dias", "15/01").

A deadline is the LAST day the customer's words allow, counted from `today` in Brazil's time:
"urgente", "o quanto antes", "pra ontem", "hoje" -> today; "amanhã" -> tomorrow; "em 15 dias" -> today + 15;
"semana que vem" -> Friday of next week; "essa semana" -> this Friday; "mês que vem" -> last day of next
month; "fim do mês" -> last day of this month; "até dezembro" -> 31 December (next year once December
is past); "início de março" -> 10 March; "meados de março" -> 15 March; "15/01" -> the next 15 January;
"dia 20" -> the next 20th; "sexta" -> the next Friday; "próximo semestre/trimestre" -> its last day;
"ano que vem" -> 31 December of next year; "curto/médio/longo prazo" -> 30/90/365 days; "até o natal",
"antes da black friday", "pro dia das mães" -> that date (the day before for "antes"), next year once past;
"ontem" on its own (it was needed yesterday) -> today.

Stored as one string, `"YYYY-MM-DD (the customer's words)"`, e.g. `"2025-02-28 (mês que vem)"`: the ISO
date sorts and scores, the words keep what the customer actually said. "sem pressa" and the like
are answers too, but carry no date (see `no_urgency`).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from agent.money import _UNITS
from agent.text import fold, squash

BRAZIL = ZoneInfo("America/Sao_Paulo")
UTC = ZoneInfo("UTC")
FRIDAY = 4

MONTHS = {
    "janeiro": 1, "fevereiro": 2, "marco": 3, "abril": 4, "maio": 5, "junho": 6, "julho": 7, "agosto": 8,
    "setembro": 9, "outubro": 10, "novembro": 11, "dezembro": 12,
}  # fmt: skip
WEEKDAYS = {"segunda": 0, "terca": 1, "quarta": 2, "quinta": 3, "sexta": 4, "sabado": 5, "domingo": 6}
_MONTH = "|".join(MONTHS)
_WEEKDAY = "|".join(WEEKDAYS)
_COUNT = r"\d{1,3}|" + "|".join(sorted((word for word in _UNITS if _UNITS[word] <= 90), key=len, reverse=True))
_PART = r"(?:(?P<part>inicio|comeco|meados|meio|fim|final)\s+(?:de|do|da)\s+)?"
# Dates that sell (retail deadlines): the folded words -> (month, day), or a rule for moving ones.
_HOLIDAYS = {
    "natal": (12, 25), r"black\s+friday": "black_friday", r"dia\s+das\s+maes": "mothers_day",
    r"dia\s+dos\s+pais": "fathers_day", r"dia\s+dos\s+namorados": (6, 12), r"dia\s+das\s+criancas": (10, 12),
}  # fmt: skip

_NO_URGENCY = re.compile(
    r"\b(?:sem\s+pressa|nao\s+tenho\s+pressa|nao\s+ha\s+pressa|nao\s+tem\s+pressa|sem\s+previsao|sem\s+prazo|"
    r"nao\s+tenho\s+prazo|nao\s+tem\s+prazo|sem\s+data|nao\s+tem\s+data|mais\s+pra\s+frente|mais\s+para\s+frente|"
    r"futuramente|no\s+futuro|um\s+dia\s+desses|quando\s+der|quando\s+puder|nao\s+e\s+urgente|nao\s+eh\s+urgente|"
    r"nada\s+urgente|sem\s+urgencia|nenhuma\s+urgencia|nao\s+tenho\s+urgencia|tranquilo\s+de\s+prazo|"
    r"prazo\s+tranquilo|a\s+longo\s+prazo\s+ainda|sem\s+previsao)\b"
)

# (pattern, resolver name); tried in order, so longer phrases come before their parts.
_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(?:com\s+)?urgen(?:te|cia)\b|\bo\s+quanto\s+antes\b|\bquanto\s+antes\b|\bo\s+mais\s+"
                r"(?:rapido|breve|cedo)\s+possivel\b|\bpra\s+ontem\b|\bpara\s+ontem\b|\bimediat\w*|\basap\b|"
                r"\bhoje\s+mesmo\b|\bassim\s+que\s+(?:possivel|der|puder)\b|\blogo\s+que\s+(?:possivel|der)\b|"
                r"\bo\s+(?:mais\s+)?(?:rapido|breve)\s+que\s+(?:der|puder)\b|\bagora\s+mesmo\b|\b(?:pra|para)\s+(?:ja|agora)\b|^\W*(?:ja|agora|hoje|ontem)\W*$|"
                r"\bhoje\b|\bja\s+ja\b"), "today"),
    (re.compile(r"\bdepois\s+de\s+amanha\b"), "after_tomorrow"),
    (re.compile(r"\bamanha\b"), "tomorrow"),
    (re.compile(rf"(?:\b(?P<prep>em|daqui(?:\s+a)?|dentro\s+de|nos\s+proximos|nas\s+proximas|no\s+maximo\s+em|"
                rf"prazo\s+de|ate)\s+)?(?:uns\s+|umas\s+)?(?P<count>{_COUNT})\s+(?P<unit>dias?|semanas?|mes(?:es)?|anos?)"
                rf"(?:\s+uteis)?\b"), "relative"),
    (re.compile(r"\b(?:proxima|proximas)\s+semanas?\b|\bsemana\s+(?:que|q)\s+vem\b|\bsemana\s+seguinte\b"),
     "next_week"),
    (re.compile(r"\b(?:(?:ate\s+o\s+|no\s+)?(?:fim|final)\s+d[ae]\s+semana|ess[ae]\s+semana|est[ae]\s+semana|"
                r"nesta\s+semana|nessa\s+semana)\b"), "this_week"),
    (re.compile(r"\b(?:(?P<part>inicio|comeco|meados|fim|final)\s+do\s+)?(?:proximo\s+mes|mes\s+(?:que|q)\s+vem|"
                r"mes\s+seguinte)\b"), "next_month"),
    (re.compile(r"\b(?:(?:fim|final)\s+do\s+mes|ess[ea]\s+mes|est[ea]\s+mes|neste\s+mes|nesse\s+mes)\b"), "this_month"),
    (re.compile(r"\b(?:(?P<part>inicio|comeco|meados|fim|final)\s+do\s+)?(?:proximo\s+ano|ano\s+(?:que|q)\s+vem|"
                r"ano\s+seguinte)\b"), "next_year"),
    (re.compile(r"\b(?:(?:fim|final)\s+d[oe]\s+ano|ess[ea]\s+ano|est[ea]\s+ano|neste\s+ano|nesse\s+ano)\b"),
     "this_year"),
    (re.compile(r"(?:\b(?P<prep>antes\s+d[oae]|ate\s+[oa]|ate|pr[oa]|para\s+[oa]|no|na)\s+)?\b(?P<holiday>"
                + "|".join(_HOLIDAYS) + r")\b"), "holiday"),
    (re.compile(r"\b(?:proximo|segundo|primeiro|1o|2o|1º|2º)\s+semestre(?:\s+de\s+(?P<year>\d{4}))?\b"
                r"|\bsemestre\s+que\s+vem\b"), "semester"),
    (re.compile(r"\b(?:proximo\s+trimestre|trimestre\s+que\s+vem)\b"), "next_quarter"),
    (re.compile(r"\b(?P<term>curto|medio|longo)\s+prazo\b"), "term"),
    (re.compile(r"\b(?:em\s+breve|logo\s+logo|proximos\s+dias|nos\s+proximos\s+dias)\b"), "soon"),
    (re.compile(r"\b(?<!24/)(?P<day>\d{1,2})/(?P<month>\d{1,2})(?:/(?P<year>\d{2}|\d{4}))?\b(?<!24/7)"),
     "numeric_date"),
    (re.compile(rf"\b(?:dia\s+)?(?P<day>\d{{1,2}})\s+de\s+(?P<month>{_MONTH})(?:\s+de\s+(?P<year>\d{{4}}))?\b"),
     "day_of_month_name"),
    (re.compile(rf"(?:\b(?P<prep>ate|em|para|pra|no\s+mes\s+de|mes\s+de|antes\s+de)\s+)?{_PART}\b(?P<month>{_MONTH})"
                rf"(?:\s+de\s+(?P<year>\d{{4}}))?\b"), "month"),
    (re.compile(r"\b(?:ate\s+o\s+|no\s+|ate\s+)?dia\s+(?P<day>\d{1,2})\b"), "day"),
    (re.compile(rf"\b(?:ate|na|nesta|nessa|esta|essa|proxima|pra|para)\s+(?P<weekday>{_WEEKDAY})(?:-feira|\s+feira)?"
                rf"(?:\s+que\s+vem)?\b|\b(?P<weekday2>{_WEEKDAY})-feira\b"
                rf"|^\s*(?P<weekday3>{_WEEKDAY})(?:\s+que\s+vem)?\s*[!.]*\s*$"), "weekday"),
]  # fmt: skip
_EDGE_SYMBOLS = re.compile(r"^[^\w(]+|[^\w)]+$")
# Words that may wrap a deadline without changing it; kept out of the phrase we store.
_LEADING = re.compile(r"^(?:para|pra|pro|no|na)\s+", re.IGNORECASE)
_CALENDAR_RULES = frozenset({"month", "weekday", "day", "numeric_date", "day_of_month_name"})
# These name a time without meaning a deadline unless the customer is answering "para quando?".
WEAK_RULES = frozenset({"tomorrow", "after_tomorrow", "day", "weekday"})


@dataclass(frozen=True)
class Deadline:
    date: date
    phrase: str  # the customer's words for it, as written
    start: int
    end: int
    weak: bool = False  # "amanhã", "dia 20", "sexta", "hoje": a deadline only as an answer to "para quando?"

    def formatted(self) -> str:
        return f"{self.date.isoformat()} ({self.phrase})"


def find_deadline(text: str, today: date) -> Deadline | None:
    """The first deadline in `text`, or None. "não é urgente" and "sem pressa" are not deadlines."""
    original = text or ""
    folded = fold(original)
    if _NO_URGENCY.search(folded):
        return None
    best: Deadline | None = None
    for pattern, rule in _RULES:
        for match in pattern.finditer(folded):
            resolved = _resolve(rule, match, today)
            if resolved is None:
                continue
            start, end = match.span()
            phrase = _EDGE_SYMBOLS.sub("", squash(original[start:end]))  # "ontem 😅" -> "ontem"
            if rule in _CALENDAR_RULES:
                phrase = squash(_LEADING.sub("", phrase))
            weak = _is_weak(rule, match)
            candidate = Deadline(resolved, phrase or squash(original[start:end]), start, end, weak)
            if (
                best is None
                or (best.weak and not candidate.weak)
                or (candidate.weak == best.weak and start < best.start)
            ):
                best = candidate
            break
    return best


def _is_weak(rule: str, match: re.Match[str]) -> bool:
    groups = match.groupdict()
    if rule in WEAK_RULES:
        return True
    if rule == "today":
        return re.sub(r"\W", "", match.group(0)) in ("hoje", "ja", "agora", "ontem")
    if rule == "relative":
        return not groups.get("prep")  # "temos 10 anos de mercado" is no deadline
    if rule == "month":
        return not (groups.get("prep") or groups.get("part") or groups.get("year"))  # "Marco" is also a name
    if rule == "holiday":
        return not groups.get("prep")  # "Natal" is also a city
    return False


def no_urgency(text: str) -> bool:
    """True for answers that say there is no deadline ("sem pressa", "quando der", "não é urgente")."""
    return bool(_NO_URGENCY.search(fold(text or "")))


def deadline_of(value: Any, today: date) -> date | None:
    """The deadline a stored timeline holds: its leading ISO date, else whatever its words say."""
    if not isinstance(value, str):
        return None
    match = re.match(r"\s*(\d{4})-(\d{2})-(\d{2})", value)
    if match:
        try:
            return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        except ValueError:
            return None
    found = find_deadline(value, today)
    return found.date if found else None


def local_today(at: datetime | None) -> date:
    """The calendar day in Brazil at `at` (now when None; a naive time is taken as UTC)."""
    moment = at or datetime.now(tz=BRAZIL)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(BRAZIL).date()


def _resolve(rule: str, match: re.Match[str], today: date) -> date | None:
    groups = match.groupdict()
    part = groups.get("part")
    if rule == "today":
        return today
    if rule == "tomorrow":
        return today + timedelta(days=1)
    if rule == "after_tomorrow":
        return today + timedelta(days=2)
    if rule == "relative":
        return _relative(today, groups["count"], groups["unit"])
    if rule == "next_week":
        return today + timedelta(days=7 - today.weekday() + FRIDAY)
    if rule == "this_week":
        return max(today, today + timedelta(days=FRIDAY - today.weekday()))
    if rule == "next_month":
        year, month = _add_months(today.year, today.month, 1)
        return _part_of_month(year, month, part)
    if rule == "this_month":
        return _month_end(today.year, today.month)
    if rule == "next_year":
        if part in ("inicio", "comeco"):
            return date(today.year + 1, 1, 31)
        if part == "meados":
            return date(today.year + 1, 6, 30)
        return date(today.year + 1, 12, 31)
    if rule == "this_year":
        return date(today.year, 12, 31)
    if rule == "semester":
        return _semester_end(today, match.group(0), groups.get("year"))
    if rule == "next_quarter":
        next_quarter_end = ((today.month - 1) // 3 + 2) * 3  # months from January, may pass December
        return _month_end(*_add_months(today.year, 1, next_quarter_end - 1))
    if rule == "term":
        return today + timedelta(days={"curto": 30, "medio": 90, "longo": 365}[groups["term"]])
    if rule == "soon":
        return today + timedelta(days=30 if "breve" in match.group(0) or "logo" in match.group(0) else 7)
    if rule == "numeric_date":
        return _dated(today, int(groups["day"]), int(groups["month"]), groups.get("year"))
    if rule == "day_of_month_name":
        return _dated(today, int(groups["day"]), MONTHS[groups["month"]], groups.get("year"))
    if rule == "month":
        month = MONTHS[groups["month"]]
        year = int(groups["year"]) if groups.get("year") else today.year + (1 if month < today.month else 0)
        return _part_of_month(year, month, part)
    if rule == "day":
        day = int(groups["day"])
        if not 1 <= day <= 31:
            return None
        year, month = (today.year, today.month) if day >= today.day else _add_months(today.year, today.month, 1)
        return date(year, month, min(day, calendar.monthrange(year, month)[1]))
    if rule == "holiday":
        return _holiday(today, groups["holiday"], before=(groups.get("prep") or "").startswith("antes"))
    if rule == "weekday":
        weekday = WEEKDAYS[groups.get("weekday") or groups.get("weekday2") or groups["weekday3"]]
        return today + timedelta(days=(weekday - today.weekday()) % 7 or 7)
    return None


def _holiday(today: date, words: str, *, before: bool) -> date:
    """The next occurrence of a commercial date ("natal", "black friday"); "antes do natal" is the day before."""
    key = next(pattern for pattern in _HOLIDAYS if re.fullmatch(pattern, words))
    for year in (today.year, today.year + 1):
        day = _holiday_in(year, _HOLIDAYS[key]) - timedelta(days=1 if before else 0)
        if day >= today:
            return day
    return day


def _holiday_in(year: int, rule: tuple[int, int] | str) -> date:
    if isinstance(rule, tuple):
        return date(year, *rule)
    month, weekday, nth, shift = {
        "black_friday": (11, 3, 4, 1),  # the day after the fourth Thursday of November
        "mothers_day": (5, 6, 2, 0),  # second Sunday of May
        "fathers_day": (8, 6, 2, 0),  # second Sunday of August
    }[rule]
    first = date(year, month, 1)
    first_weekday = first + timedelta(days=(weekday - first.weekday()) % 7)
    return first_weekday + timedelta(weeks=nth - 1, days=shift)


def _relative(today: date, count_text: str, unit: str) -> date | None:
    count = int(count_text) if count_text.isdigit() else _UNITS.get(count_text)
    if count is None or count <= 0 or count > 999:
        return None
    if unit.startswith("dia"):
        return today + timedelta(days=count)
    if unit.startswith("semana"):
        return today + timedelta(weeks=count)
    if unit.startswith("mes"):
        year, month = _add_months(today.year, today.month, count)
        return date(year, month, min(today.day, calendar.monthrange(year, month)[1]))
    if count > 50:
        return None
    return _safe_date(today.year + count, today.month, today.day)


def _dated(today: date, day: int, month: int, year_text: str | None) -> date | None:
    if year_text:
        year = int(year_text)
        year += 2000 if year < 100 else 0
        return _safe_date(year, month, day)
    candidate = _safe_date(today.year, month, day)
    if candidate is not None and candidate < today:
        candidate = _safe_date(today.year + 1, month, day)
    return candidate


def _part_of_month(year: int, month: int, part: str | None) -> date:
    if part in ("inicio", "comeco"):
        return date(year, month, 10)
    if part in ("meados", "meio"):
        return date(year, month, 15)
    return _month_end(year, month)


def _semester_end(today: date, words: str, year: str | None = None) -> date:
    """The last day of the semester meant: a named year wins; else the next one of that half to end."""
    first_half = today.month <= 6
    first = "primeiro" in words or words.startswith("1")
    second = "segundo" in words or words.startswith("2")
    if year and (first or second):
        return date(int(year), 6, 30) if first else date(int(year), 12, 31)
    if first:
        return date(today.year if first_half else today.year + 1, 6, 30)
    if second:
        return date(today.year, 12, 31)
    return date(today.year, 12, 31) if first_half else date(today.year + 1, 6, 30)


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None
