"""The closed set of tools the LLM may call, their JSON schemas and their argument validation.

Nothing a tool call asks for is applied until its arguments pass these pydantic models. A call
that does not (bad JSON, wrong types, unknown keys, a date outside the follow-up window, an unknown
tool) yields a `ToolCallError` whose message is fed back to the model to correct once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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
_NUMERIC = re.compile(r"^\s*\d+(?:\.\d+)?\s*$")


class ToolCallError(ValueError):
    """A tool call the agent cannot apply; the message is written for the model to fix it."""


# --- Field values by type --------------------------------------------------------------------


def _number(value: Any) -> int | float:
    """A plain number: JSON numbers, or a string holding only digits and one decimal point."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMERIC.match(value)):
        number = float(value)
    else:
        raise ValueError('must be a plain number such as 2000 or 1500.5 (no currency symbol or words like "mil")')
    if number != number or number < 0 or number > MAX_MONEY:
        raise ValueError("must be a number between 0 and 1000000000000")
    return int(number) if number == int(number) else round(number, 2)


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
Email = Annotated[str, BeforeValidator(_email)]
Cnpj = Annotated[str, BeforeValidator(_cnpj)]

VALUE_TYPES: dict[str, Any] = {"name": Name, "email": Email, "money": Number, "number": Number, "cnpj": Cnpj}
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


def parse_when(text: str, *, now: datetime) -> datetime:
    """An aware UTC datetime from ISO 8601 or "in 2 days" / "em 3 horas", within the follow-up window."""
    text = text.strip()
    relative = _RELATIVE.match(text)
    if relative:
        unit = _UNITS[relative.group("unit").lower()[:3]]
        when = now + timedelta(**{unit: int(relative.group("count"))})
    else:
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ToolCallError(
                'schedule_followup.when must be an ISO 8601 datetime ("2025-03-10T14:00:00-03:00") '
                'or relative ("in 2 days", "in 3 hours")'
            ) from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=DEFAULT_TIME_ZONE)
    when = when.astimezone(UTC)
    if not now + FOLLOWUP_MIN <= when <= now + FOLLOWUP_MAX:
        raise ToolCallError(
            f"schedule_followup.when must be between 10 minutes and 60 days from now (now is {now.isoformat()})"
        )
    return when


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
            return ValidCall(name, _validate_update_lead(arguments, profile))
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


def _validate_update_lead(arguments: dict[str, Any], profile: Profile) -> dict[str, Any]:
    """`fields` to record and, optionally, `declined`: profile questions the customer would not answer."""

    class UpdateLeadArguments(_Arguments):
        fields: dict[str, Any]
        declined: list[str] = []

    parsed = UpdateLeadArguments.model_validate(arguments)
    try:
        validated = _lead_fields_model(tuple(recordable_fields(profile).items())).model_validate(parsed.fields)
    except ValidationError as exc:
        raise ToolCallError(
            f"invalid arguments for {UPDATE_LEAD}: {describe_validation_error(exc, 'fields')}"
        ) from None
    # A null means "not known": it never erases what the lead already told us.
    updates = {
        key: value for key, value in validated.model_dump().items() if key in parsed.fields and value is not None
    }
    questions = [field.key for field in profile.fields]
    unknown = [key for key in parsed.declined if key not in questions]
    if unknown:
        raise ToolCallError(f"update_lead.declined holds unknown questions {unknown}; questions: {questions}")
    declined = [key for key in dict.fromkeys(parsed.declined) if key not in updates]
    if not updates and not declined:
        keys = ", ".join(recordable_fields(profile))
        raise ToolCallError(f"update_lead needs at least one field with a value (keys: {keys}) or a declined question")
    return {"fields": updates, "declined": declined}


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
                {"when": {"type": "string", "description": 'Data e hora ISO 8601 com fuso, ou relativo: "in 2 days".'}},
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
