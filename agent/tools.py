"""The closed set of tools the LLM may call, their JSON schemas and their argument validation.

Nothing a tool call asks for is applied until its arguments pass these pydantic models. A call
that does not (bad JSON, wrong types, unknown keys, a date outside the follow-up window, an unknown
tool) yields a `ToolCallError` whose message is fed back to the model to correct once.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    ValidationError,
    create_model,
)

from agent import dates, money
from agent.cnpj import format_cnpj, is_valid_cnpj
from agent.context import Profile

UPDATE_LEAD = "update_lead"
HANDOFF_TO_HUMAN = "handoff_to_human"
SCHEDULE_FOLLOWUP = "schedule_followup"
REQUEST_QUOTE = "request_quote"
OPT_OUT = "opt_out"
TOOL_NAMES = (UPDATE_LEAD, HANDOFF_TO_HUMAN, SCHEDULE_FOLLOWUP, REQUEST_QUOTE, OPT_OUT)

# Recorded whenever the customer gives them, whatever the profile asks (as the playbook does).
ALWAYS_RECORDED = {"email": "email", "city": "text", "cnpj": "cnpj"}

# A follow-up sooner than this is noise, later than this is forgotten.
FOLLOWUP_MIN = timedelta(minutes=10)
FOLLOWUP_MAX = timedelta(days=60)
# A datetime without an offset is read in the customers' zone (the product serves Brazil).
DEFAULT_TIME_ZONE = ZoneInfo("America/Sao_Paulo")

MAX_TEXT = 500
MAX_NAME = 120
MAX_MONEY = 1_000_000_000_000
_EMAIL = re.compile(r"^[\w.+-]+@[\w-]+(?:\.[\w-]+)+$", re.UNICODE)
_NUMERIC = re.compile(r"^\s*\d[\d.,]*\s*$")
# "R$ 5.000/mês": the period says how often, not how much (and must not cut the amount short).
_PER_PERIOD = re.compile(r"\s*(?:/|\bpor\b|\bao\b)\s*(?:m[eê]s|ano)\b.*$|\s*\b(?:mensais|mensal|anuais|anual)\b", re.I)
_LEADING_DATE = re.compile(r"^\s*\d{4}-\d{2}-\d{2}")


class ToolCallError(ValueError):
    """A tool call the agent cannot apply; the message is written for the model to fix it.

    `partial` is what the call got right and may be applied anyway: an `update_lead` whose budget
    is unreadable still records the need the customer gave in the same breath.
    """

    def __init__(self, message: str, *, partial: ValidCall | None = None) -> None:
        super().__init__(message)
        self.partial = partial


# --- Field values by type --------------------------------------------------------------------


def _number(value: Any) -> int | float:
    """A plain number: JSON numbers, or a string of digits read the Brazilian way ("5.000" is five thousand)."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    if isinstance(value, str) and _NUMERIC.match(value):
        value = money.parse_number(value)
    if not isinstance(value, int | float):
        raise ValueError("must be a plain number such as 2000 or 1500.5")
    number = float(value)
    if number != number or number < 0 or number > MAX_MONEY:
        raise ValueError("must be a number between 0 and 1000000000000")
    return int(number) if number == int(number) else round(number, 2)


def _money(value: Any) -> int | float:
    """An amount in reais: a number, or how people (and models) write it: "R$ 5.000", "5 mil", "uns 2 mil".

    A range gives its lower bound, as the playbook reads it; text without an amount is refused.
    """
    if isinstance(value, str) and not _NUMERIC.match(value):
        amount = money.parse_amount(_PER_PERIOD.sub("", value))
        if amount is None:
            raise ValueError('must be an amount in reais such as 2000 or "R$ 1.500,00"; leave it out if unknown')
        value = amount
    return _number(value)


def _email(value: Any) -> str:
    if not isinstance(value, str) or not _EMAIL.match(value.strip()):
        raise ValueError("must be a valid e-mail address such as nome@empresa.com.br")
    return value.strip().lower()


def _cnpj(value: Any) -> str:
    digits = re.sub(r"[\s./-]", "", value) if isinstance(value, str) else ""
    if not is_valid_cnpj(digits):
        raise ValueError("must be a valid CNPJ (14 digits with correct check digits); leave it out if unsure")
    return format_cnpj(digits)


def _strict_text(value: Any) -> Any:
    # pydantic would turn nothing else into a string anyway; this gives the model a clearer message.
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value


def _text(max_length: int) -> Any:
    """A non-blank string of at most `max_length` characters, surrounding spaces removed."""
    # The before-validator comes last so that it runs first, on the raw value.
    return Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length),
        BeforeValidator(_strict_text),
    ]


Text = _text(MAX_TEXT)
Name = _text(MAX_NAME)
Number = Annotated[int | float, BeforeValidator(_number)]
Money = Annotated[int | float, BeforeValidator(_money)]
Email = Annotated[str, BeforeValidator(_email)]
Cnpj = Annotated[str, BeforeValidator(_cnpj)]

VALUE_TYPES: dict[str, Any] = {"name": Name, "email": Email, "money": Money, "number": Number, "cnpj": Cnpj}
JSON_SCHEMA_BY_TYPE: dict[str, dict[str, Any]] = {
    "name": {"type": "string"},
    "email": {"type": "string", "format": "email"},
    "money": {"type": "number", "description": "Valor em reais (BRL), só o número: 2000, 1500.5"},
    "number": {"type": "number"},
    "cnpj": {"type": "string", "description": "CNPJ com 14 dígitos"},
}


# Deadlines are stored as the playbook stores them (agent.dates), so both paths write the same value.
DEADLINE_HINT = (
    "Escreva 'AAAA-MM-DD (palavras do cliente)', com a data calculada a partir de hoje, "
    "ex.: '2025-04-30 (mês que vem)'; sem data possível, só as palavras do cliente."
)
DEADLINE_KEYS = {"timeline", "deadline", "prazo", "quando"}


def is_deadline(key: str, field_type: str) -> bool:
    return field_type == "date" or key.lower() in DEADLINE_KEYS


def recordable_fields(profile: Profile) -> dict[str, str]:
    """Field key -> field type that `update_lead` may write: the profile's fields, e-mail, city and CNPJ."""
    keys = {field.key: field.type for field in profile.fields}
    for key, field_type in ALWAYS_RECORDED.items():
        keys.setdefault(key, field_type)
    return keys


@lru_cache(maxsize=64)
def _lead_fields_model(fields: tuple[tuple[str, str], ...]) -> type[BaseModel]:
    """A pydantic model accepting exactly these (key, type) pairs; built once per field set."""
    definitions: dict[str, Any] = {key: (VALUE_TYPES.get(field_type, Text) | None, None) for key, field_type in fields}
    return create_model("LeadFields", __config__=ConfigDict(extra="forbid"), **definitions)


# --- Arguments of each tool ------------------------------------------------------------------


class _Arguments(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HandoffArguments(_Arguments):
    reason: _text(300)  # type: ignore[valid-type]


class QuoteArguments(_Arguments):
    details: _text(1000)  # type: ignore[valid-type]


class OptOutArguments(_Arguments):
    pass


class FollowupArguments(_Arguments):
    when: _text(100)  # type: ignore[valid-type]


_RELATIVE = re.compile(
    r"^(?:in|em|daqui\s+a)\s+(?P<count>\d+)\s+(?P<unit>minutes?|minutos?|hours?|horas?|days?|dias?|weeks?|semanas?)$",
    re.IGNORECASE,
)
# Units by their first three letters, English or Portuguese.
_UNITS = {
    "min": "minutes",
    "hor": "hours",
    "hou": "hours",
    "day": "days",
    "dia": "days",
    "wee": "weeks",
    "sem": "weeks",
}


# The day words of "amanhã às 10h", "sexta 14h30", "dia 15 às 9h" (matched without accents).
_WEEKDAYS_PT = {
    "segunda": 0,
    "terca": 1,
    "quarta": 2,
    "quinta": 3,
    "sexta": 4,
    "sabado": 5,
    "domingo": 6,
}
_SPOKEN = re.compile(
    r"^(?:(?:no|na|nesta|nessa|esta|essa|proxima|proximo)\s+)?"
    r"(?P<day>depois\s+de\s+amanha|amanha|hoje|"
    r"(?P<weekday>segunda|terca|quarta|quinta|sexta|sabado|domingo)(?:-feira|\s+feira)?|"
    r"(?:dia\s+)?(?P<dd>\d{1,2})(?:/(?P<mm>\d{1,2})(?:/(?P<yyyy>\d{4}))?)?)"
    r"(?:\s*(?:,|a|as|a\s+partir\s+das|por\s+volta\s+das|umas|la\s+pelas)?\s*"
    r"(?P<hour>\d{1,2})(?:\s*(?:h|hs|horas?|:)\s*(?P<minute>\d{2})?(?:\s*min)?)?)?"
    r"(?:\s+(?:da|de|a|pela|na)\s+(?P<period>manha|tarde|noite))?$"
)
# When the customer names a day but no time: mid-morning, when people read their messages.
DEFAULT_FOLLOWUP_TIME = time(10, 0)
_PERIOD_TIMES = {"manha": time(10, 0), "tarde": time(14, 0), "noite": time(19, 0)}


def parse_when(text: str, *, now: datetime) -> datetime:
    """An aware UTC datetime from ISO 8601, "in 2 days" / "em 3 horas" or the customer's own words
    ("amanhã às 10h", "sexta 14h30", "dia 15 às 9h", read in Brazil's time), within the follow-up window.
    """
    text = text.strip()
    relative = _RELATIVE.match(text)
    if relative:
        unit = _UNITS[relative.group("unit").lower()[:3]]
        when = now + timedelta(**{unit: int(relative.group("count"))})
    else:
        when = _spoken_when(text, now) or _iso_when(text)
    when = when.astimezone(UTC)
    if not now + FOLLOWUP_MIN <= when <= now + FOLLOWUP_MAX:
        raise ToolCallError(
            f"schedule_followup.when must be between 10 minutes and 60 days from now (now is {now.isoformat()})"
        )
    return when


def _iso_when(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ToolCallError(
            'schedule_followup.when must be an ISO 8601 datetime ("2025-03-10T14:00:00-03:00"), '
            'relative ("in 2 days", "in 3 hours") or a day and time ("amanhã às 10h")'
        ) from None
    if len(text) == 10:  # a date alone ("2025-03-12") means that day, not its midnight
        when = datetime.combine(when.date(), DEFAULT_FOLLOWUP_TIME)
    return when if when.tzinfo is not None else when.replace(tzinfo=DEFAULT_TIME_ZONE)


def _spoken_when(text: str, now: datetime) -> datetime | None:
    """ "amanhã às 10h" and the like, in Brazil's time; None when `text` is not one of them."""
    match = _SPOKEN.match(_fold(text))
    if match is None:
        return None
    today = _local_day(now)
    day = _spoken_day(match, today)
    if day is None:
        raise ToolCallError(f"schedule_followup.when names a day that does not exist: {text!r}")
    clock = _PERIOD_TIMES.get(match.group("period") or "", DEFAULT_FOLLOWUP_TIME)
    if match.group("hour"):
        hour, minute = int(match.group("hour")), int(match.group("minute") or 0)
        if match.group("period") in ("tarde", "noite") and hour < 12:
            hour += 12
        elif not match.group("period") and 1 <= hour <= 6:
            hour += 12  # "às 3": nobody books a sales call at three in the morning
        if hour > 23 or minute > 59:
            raise ToolCallError(f"schedule_followup.when has an impossible time: {text!r}")
        clock = time(hour, minute)
    return datetime.combine(day, clock, tzinfo=DEFAULT_TIME_ZONE)


def _spoken_day(match: re.Match[str], today: date) -> date | None:
    word = match.group("day")
    if word == "hoje":
        return today
    if word == "amanha":
        return today + timedelta(days=1)
    if word.startswith("depois"):
        return today + timedelta(days=2)
    if match.group("weekday"):
        # "sexta" is the next Friday, never today (that would be "hoje").
        ahead = (_WEEKDAYS_PT[match.group("weekday")] - today.weekday() - 1) % 7 + 1
        return today + timedelta(days=ahead)
    day_number = int(match.group("dd"))
    month = int(match.group("mm") or today.month)
    year = int(match.group("yyyy") or today.year)
    try:
        day = date(year, month, day_number)
        if day < today and not match.group("yyyy"):
            # "dia 5" on the 20th is next month's; "05/01" in December is next year's.
            day = date(year + 1, 1, day_number) if match.group("mm") else _next_month(day)
    except ValueError:
        return None
    return day


def _next_month(day: date) -> date:
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return date(year, month, day.day)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    folded = "".join(char for char in decomposed if not unicodedata.combining(char)).lower()
    return re.sub(r"\s+", " ", folded).strip(" .!")


# --- Validated effects -----------------------------------------------------------------------


@dataclass
class ToolEffects:
    """What the valid tool calls of a turn ask for, merged in call order."""

    field_updates: dict[str, Any] = field(default_factory=dict)
    handoff_reason: str | None = None
    followup_at: datetime | None = None
    quote_details: str | None = None
    opt_out: bool = False
    declined: list[str] = field(default_factory=list)  # questions the customer would not answer


@dataclass(frozen=True)
class ValidCall:
    name: str
    arguments: dict[str, Any]


def parse_arguments(raw: str | None) -> dict[str, Any]:
    """The JSON object of a call's arguments; tools without parameters may send nothing."""
    if raw is None or not raw.strip():
        return {}
    try:
        arguments = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ToolCallError(f"arguments are not valid JSON ({exc.msg} at position {exc.pos})") from None
    if not isinstance(arguments, dict):
        raise ToolCallError("arguments must be a JSON object")
    return arguments


def validate_call(name: str, arguments: dict[str, Any], *, profile: Profile, now: datetime) -> ValidCall:
    """Check one call against the closed tool set; the returned arguments are normalised values."""
    try:
        if name == UPDATE_LEAD:
            return ValidCall(name, _validate_update_lead(arguments, profile, today=_local_day(now)))
        if name == HANDOFF_TO_HUMAN:
            return ValidCall(name, HandoffArguments.model_validate(arguments).model_dump())
        if name == REQUEST_QUOTE:
            return ValidCall(name, QuoteArguments.model_validate(arguments).model_dump())
        if name == OPT_OUT:
            return ValidCall(name, OptOutArguments.model_validate(arguments).model_dump())
        if name == SCHEDULE_FOLLOWUP:
            when = parse_when(FollowupArguments.model_validate(arguments).when, now=now)
            return ValidCall(name, {"when": when})
    except ValidationError as exc:
        raise ToolCallError(f"invalid arguments for {name}: {describe_validation_error(exc)}") from None
    raise ToolCallError(f"unknown tool {name!r}; the only tools are: {', '.join(TOOL_NAMES)}")


def _validate_update_lead(arguments: dict[str, Any], profile: Profile, *, today: date) -> dict[str, Any]:
    """`fields` to record and, optionally, `declined`: profile questions the customer would not answer.

    Each field is judged on its own: when some are invalid the error names them, and the valid
    ones travel with it as the call's `partial` part.
    """

    class UpdateLeadArguments(_Arguments):
        fields: dict[str, Any]
        declined: list[str] = []

    parsed = UpdateLeadArguments.model_validate(arguments)
    fields_model = _lead_fields_model(tuple(recordable_fields(profile).items()))
    problems = ""
    try:
        validated = fields_model.model_validate(parsed.fields)
    except ValidationError as exc:
        problems = describe_validation_error(exc, "fields")
        wrong = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
        try:
            validated = fields_model.model_validate({k: v for k, v in parsed.fields.items() if k not in wrong})
        except ValidationError:  # not expected: every wrong key was left out
            raise ToolCallError(f"invalid arguments for {UPDATE_LEAD}: {problems}") from None
    # A null means "not known": it never erases what the lead already told us.
    updates = {
        key: _dated_deadline(key, value, profile, today)
        for key, value in validated.model_dump().items()
        if key in parsed.fields and value is not None
    }
    questions = [field.key for field in profile.fields]
    unknown = [key for key in parsed.declined if key not in questions]
    if unknown:
        raise ToolCallError(f"update_lead.declined holds unknown questions {unknown}; questions: {questions}")
    declined = [key for key in dict.fromkeys(parsed.declined) if key not in updates]
    if problems:
        partial = ValidCall(UPDATE_LEAD, {"fields": updates, "declined": declined}) if updates or declined else None
        raise ToolCallError(f"invalid arguments for {UPDATE_LEAD}: {problems}", partial=partial)
    if not updates and not declined:
        keys = ", ".join(recordable_fields(profile))
        raise ToolCallError(f"update_lead needs at least one field with a value (keys: {keys}) or a declined question")
    return {"fields": updates, "declined": declined}


def _dated_deadline(key: str, value: Any, profile: Profile, today: date) -> Any:
    """A deadline in the customer's words gets its date, as the playbook stores it: "2025-04-30 (mês que vem)".

    Models often record the words alone; the date is what scoring and the team read.
    """
    field_type = recordable_fields(profile).get(key, "text")
    if not (is_deadline(key, field_type) and isinstance(value, str)) or _LEADING_DATE.match(value):
        return value
    found = dates.find_deadline(value, today)
    return f"{found.date.isoformat()} ({value})" if found else value


def _local_day(now: datetime) -> date:
    return now.astimezone(DEFAULT_TIME_ZONE).date()


def describe_validation_error(exc: ValidationError, prefix: str = "") -> str:
    """One line per problem, naming the argument path, without pydantic's documentation links."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        location = ".".join(str(part) for part in [prefix, *error["loc"]] if part != "") or "arguments"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "is not an allowed key"
        problems.append(f"{location} {message}")
    return "; ".join(problems)


def apply_call(effects: ToolEffects, call: ValidCall) -> None:
    if call.name == UPDATE_LEAD:
        effects.field_updates.update(call.arguments["fields"])
        effects.declined += [key for key in call.arguments.get("declined", []) if key not in effects.declined]
    elif call.name == HANDOFF_TO_HUMAN:
        effects.handoff_reason = call.arguments["reason"]
    elif call.name == SCHEDULE_FOLLOWUP:
        effects.followup_at = call.arguments["when"]
    elif call.name == REQUEST_QUOTE:
        effects.quote_details = call.arguments["details"]
    elif call.name == OPT_OUT:
        effects.opt_out = True


# --- What the model is told ------------------------------------------------------------------


def tool_schemas(profile: Profile) -> list[dict[str, Any]]:
    """The Chat Completions `tools` for this profile; `update_lead` lists exactly its keys."""
    questions = {field.key: field.question for field in profile.fields}
    lead_properties = {}
    for key, field_type in recordable_fields(profile).items():
        schema = {**JSON_SCHEMA_BY_TYPE.get(field_type, {"type": "string"})}
        hints = [questions.get(key, ""), schema.pop("description", "")]
        if is_deadline(key, field_type):
            hints.append(DEADLINE_HINT)
        schema["description"] = " ".join(hint for hint in hints if hint)
        lead_properties[key] = schema
    return [
        _function(
            UPDATE_LEAD,
            "Registra informações que o cliente acabou de dar. Use só as chaves listadas e só o que o cliente disse.",
            {
                "type": "object",
                "properties": {
                    "fields": {"type": "object", "properties": lead_properties, "additionalProperties": False},
                    "declined": {
                        "type": "array",
                        "items": {"type": "string", "enum": [field.key for field in profile.fields]},
                        "description": "Perguntas que o cliente preferiu não responder ou não sabe: não insista nelas.",
                    },
                },
                "required": ["fields"],
                "additionalProperties": False,
            },
        ),
        _function(
            HANDOFF_TO_HUMAN,
            "Passa a conversa para uma pessoa do time: cliente qualificado, pedido de falar com humano, "
            "reclamação, ou assunto fora do que você pode responder.",
            _object(
                {
                    "reason": {
                        "type": "string",
                        "description": "Motivo curto, em inglês, para o time: 'hot lead', 'customer asked for a "
                        "human', 'complaint', 'out of scope'.",
                    }
                },
                ["reason"],
            ),
        ),
        _function(
            SCHEDULE_FOLLOWUP,
            "Agenda um novo contato quando o cliente pede para falar depois.",
            _object(
                {
                    "when": {
                        "type": "string",
                        "description": 'Data e hora ISO 8601 com fuso ("2025-03-12T10:00:00-03:00"), relativo '
                        '("in 2 days") ou como o cliente disse ("amanhã às 10h").',
                    }
                },
                ["when"],
            ),
        ),
        _function(
            REQUEST_QUOTE,
            "Pede ao time um orçamento com o que o cliente precisa.",
            _object(
                {"details": {"type": "string", "description": "O que orçar, com quantidades e prazos."}}, ["details"]
            ),
        ),
        _function(OPT_OUT, "O cliente não quer mais receber mensagens.", _object({}, [])),
    ]


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


def _function(name: str, description: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": description, "parameters": parameters}}
