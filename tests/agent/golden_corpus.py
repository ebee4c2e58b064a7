"""Loading and playing the golden conversations (tests/agent/golden/README.md is the schema).

Shared by every runner: `load` reads and validates a file, `play` runs it through a decide
function carrying the lead as `conversations.turns.decision_apply` would, and `check` compares
the outcome with the file's expectations, returning every mismatch.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from agent.context import ChatMessage, Profile, QualificationField, TurnContext
from agent.decision import ACTIONS, HANDOFF, OPT_OUT, Decision
from conversations.agent_context import KIND_PLACEHOLDERS
from conversations.defaults import DEFAULT_PROFILE

GOLDEN_DIR = Path(__file__).parent / "golden"
DEFAULT_NOW = "2025-03-10T10:00:00-03:00"
MAX_BUBBLES = 3
MAX_BUBBLE_CHARS = 300
ALWAYS_FORBIDDEN = (
    r"https?://|www\.",
    r"\(?\b\d{2}\)?\s?9\d{4}-?\d{4}\b",
    r"como (uma|um) (ia|intelig[eê]ncia artificial|modelo)",
    r"modelo de linguagem|language model",
    r"system prompt|prompt do sistema",
    r"desconto de \d|\d+\s?% de desconto",
)
TOP_LEVEL_KEYS = {
    "description", "profile", "push_name", "business_open", "next_opening", "now", "lead", "turns",
    "expect", "expect_playbook", "expect_llm", "forbidden", "llm",
}  # fmt: skip
EXPECT_KEYS = {
    "fields", "temperature", "stage", "owner", "opted_out", "score", "actions", "handoff_reason", "said",
}  # fmt: skip
MESSAGE_KEYS = {"text", "kind", "media_text", "media_failed"}


@dataclass(frozen=True)
class Conversation:
    name: str
    description: str
    profile: Profile
    push_name: str
    business_open: bool
    next_opening: str
    now: datetime
    lead: dict[str, Any]
    turns: list[list[dict[str, Any]]]
    expect: dict[str, Any]
    forbidden: list[str]


@dataclass
class Lead:
    """The lead and conversation columns a decision changes, as `decision_apply` changes them."""

    fields: dict[str, Any]
    score: int = 0
    temperature: str = "cold"
    stage: str = "new"
    owner: str = "bot"
    opted_out: bool = False
    state: dict[str, Any] = field(default_factory=dict)

    def apply(self, decision: Decision) -> None:
        for key, value in decision.field_updates.items():
            if value in (None, ""):
                continue
            self.fields[key] = value
        if decision.score is not None:
            self.score = max(0, min(100, int(decision.score)))
        if decision.temperature:
            self.temperature = decision.temperature
        stage = decision.stage or ("handed_off" if HANDOFF in decision.actions else None)
        if stage:
            self.stage = stage
        elif self.stage == "new":
            self.stage = "engaged"
        self.state = dict(decision.state)
        if HANDOFF in decision.actions:
            self.owner = "human"
        if OPT_OUT in decision.actions:
            self.opted_out = True


@dataclass
class TurnRecord:
    messages: list[ChatMessage]
    decision: Decision | None  # None: nobody answered (a person owns the conversation)


@dataclass
class Outcome:
    lead: Lead
    turns: list[TurnRecord]

    @property
    def bubbles(self) -> list[str]:
        return [bubble for turn in self.turns if turn.decision for bubble in turn.decision.bubbles]

    @property
    def actions(self) -> list[str]:
        return [action for turn in self.turns if turn.decision for action in turn.decision.actions]

    @property
    def handoff_reasons(self) -> list[str]:
        return [
            turn.decision.handoff_reason for turn in self.turns if turn.decision and HANDOFF in turn.decision.actions
        ]


def conversation_files() -> list[Path]:
    return sorted(GOLDEN_DIR.glob("*.yaml"))


def load(path: Path, *, path_name: str) -> Conversation:
    """Read and validate one file; `path_name` ("playbook" or "llm") picks the expectation overrides."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ValueError(f"{path.name}: a conversation is a mapping")
    unknown = set(raw) - TOP_LEVEL_KEYS
    if unknown:
        raise ValueError(f"{path.name}: unknown keys {sorted(unknown)}")
    for required in ("description", "turns", "expect"):
        if required not in raw:
            raise ValueError(f"{path.name}: missing {required!r}")
    expect = _expectations(raw, path_name)
    unknown_expect = set(expect) - EXPECT_KEYS
    if unknown_expect:
        raise ValueError(f"{path.name}: unknown expectations {sorted(unknown_expect)}")
    turns = [[_message(item, path.name) for item in turn] for turn in raw["turns"]]
    if not turns or any(not turn for turn in turns):
        raise ValueError(f"{path.name}: every turn needs at least one message")
    return Conversation(
        name=path.stem,
        description=raw["description"],
        profile=build_profile(raw.get("profile", "default")),
        push_name=raw.get("push_name", ""),
        business_open=bool(raw.get("business_open", True)),
        next_opening=raw.get("next_opening", ""),
        now=datetime.fromisoformat(str(raw.get("now", DEFAULT_NOW))),
        lead=dict(raw.get("lead") or {}),
        turns=turns,
        expect=expect,
        forbidden=list(raw.get("forbidden") or []),
    )


def build_profile(spec: str | Mapping[str, Any]) -> Profile:
    base = Profile(
        name=DEFAULT_PROFILE["name"],
        company_name=DEFAULT_PROFILE["company_name"],
        company_description=DEFAULT_PROFILE["company_description"],
        offer_description=DEFAULT_PROFILE["offer_description"],
        tone=DEFAULT_PROFILE["tone"],
        fields=tuple(_field(item) for item in DEFAULT_PROFILE["qualification_fields"]),
        hot_threshold=DEFAULT_PROFILE["hot_threshold"],
        warm_threshold=DEFAULT_PROFILE["warm_threshold"],
    )
    if spec == "default":
        return base
    if not isinstance(spec, Mapping):
        raise ValueError(f"unknown profile {spec!r}")
    overrides = dict(spec)
    if "fields" in overrides:
        overrides["fields"] = tuple(_field(item) for item in overrides["fields"])
    return replace(base, **overrides)


def play(conversation: Conversation, decide: Callable[[TurnContext], Decision]) -> Outcome:
    lead = Lead(fields=dict(conversation.lead))
    history: list[ChatMessage] = []
    records: list[TurnRecord] = []
    for index, turn in enumerate(conversation.turns):
        at = conversation.now + timedelta(minutes=index)
        messages = [_chat_message(item, at) for item in turn]
        if lead.owner == "human":
            records.append(TurnRecord(messages, None))
            history += messages
            continue
        context = TurnContext(
            profile=conversation.profile,
            lead_fields=dict(lead.fields),
            new_messages=tuple(messages),
            history=tuple(history + messages),
            push_name=conversation.push_name,
            state=dict(lead.state),
            business_open=conversation.business_open,
            next_opening=conversation.next_opening,
        )
        decision = decide(context)
        records.append(TurnRecord(messages, decision))
        lead.apply(decision)
        history += messages + [ChatMessage(role="agent", text=bubble, at=at) for bubble in decision.bubbles]
    return Outcome(lead, records)


def check(conversation: Conversation, outcome: Outcome) -> list[str]:
    """Every way the outcome differs from the file: an empty list means the conversation passes."""
    problems = _turn_problems(conversation, outcome)
    expect = conversation.expect
    lead = outcome.lead
    for key, wanted in (expect.get("fields") or {}).items():
        problem = _value_problem(lead.fields.get(key), wanted)
        if problem:
            problems.append(f"field {key!r}: {problem}")
    for key in ("temperature", "stage", "owner", "opted_out"):
        if key in expect and getattr(lead, key) != expect[key]:
            problems.append(f"{key}: expected {expect[key]!r}, got {getattr(lead, key)!r}")
    if "score" in expect:
        problem = _value_problem(lead.score, expect["score"])
        if problem:
            problems.append(f"score: {problem}")
    if "actions" in expect and outcome.actions != list(expect["actions"]):
        problems.append(f"actions: expected {expect['actions']!r}, got {outcome.actions!r}")
    if "handoff_reason" in expect:
        reasons = outcome.handoff_reasons
        if not reasons:
            problems.append("handoff_reason: no handoff happened")
        elif _value_problem(reasons[-1], expect["handoff_reason"]):
            problems.append(f"handoff_reason: {_value_problem(reasons[-1], expect['handoff_reason'])}")
    for pattern in expect.get("said") or []:
        if not any(re.search(pattern, bubble, re.IGNORECASE) for bubble in outcome.bubbles):
            problems.append(f"said: no bubble matches {pattern!r}")
    return problems


def transcript(outcome: Outcome) -> str:
    """The conversation as text, for failure messages."""
    lines = []
    for turn in outcome.turns:
        for message in turn.messages:
            lines.append(f"customer> {message.text} {('[' + message.media_text + ']') if message.media_text else ''}")
        bubbles = turn.decision.bubbles if turn.decision else ["(silent: a person owns the conversation)"]
        lines += [f"   agent> {bubble}" for bubble in bubbles]
        if turn.decision:
            lines.append(f"          actions={turn.decision.actions} updates={turn.decision.field_updates}")
    lead = outcome.lead
    lines.append(
        f"lead: fields={lead.fields} score={lead.score} temperature={lead.temperature} stage={lead.stage} "
        f"owner={lead.owner} opted_out={lead.opted_out}"
    )
    return "\n".join(lines)


def _turn_problems(conversation: Conversation, outcome: Outcome) -> list[str]:
    problems = []
    forbidden = [*ALWAYS_FORBIDDEN, *conversation.forbidden]
    opted_out = False
    for index, turn in enumerate(outcome.turns, start=1):
        decision = turn.decision
        if decision is None:
            continue
        if opted_out and decision.bubbles:
            problems.append(f"turn {index}: spoke after the opt-out: {decision.bubbles!r}")
        if len(decision.bubbles) > MAX_BUBBLES:
            problems.append(f"turn {index}: {len(decision.bubbles)} bubbles")
        for bubble in decision.bubbles:
            if not bubble.strip():
                problems.append(f"turn {index}: an empty bubble")
            if len(bubble) > MAX_BUBBLE_CHARS:
                problems.append(f"turn {index}: a bubble of {len(bubble)} characters")
            for pattern in forbidden:
                if re.search(pattern, bubble, re.IGNORECASE):
                    problems.append(f"turn {index}: forbidden {pattern!r} in {bubble!r}")
        unknown = set(decision.actions) - ACTIONS
        if unknown:
            problems.append(f"turn {index}: unknown actions {sorted(unknown)}")
        opted_out = opted_out or OPT_OUT in decision.actions
    return problems


def _value_problem(value: Any, wanted: Any) -> str:
    if wanted is None:
        return "" if value in (None, "") else f"expected absent, got {value!r}"
    if isinstance(wanted, Mapping):
        if "pattern" in wanted:
            if value is None or not re.search(wanted["pattern"], str(value), re.IGNORECASE):
                return f"{value!r} does not match {wanted['pattern']!r}"
            return ""
        if not isinstance(value, int | float) or isinstance(value, bool):
            return f"expected a number, got {value!r}"
        if "min" in wanted and value < wanted["min"]:
            return f"{value!r} < {wanted['min']!r}"
        if "max" in wanted and value > wanted["max"]:
            return f"{value!r} > {wanted['max']!r}"
        return ""
    return "" if value == wanted else f"expected {wanted!r}, got {value!r}"


def _expectations(raw: Mapping[str, Any], path_name: str) -> dict[str, Any]:
    expect = dict(raw["expect"])
    override = dict(raw.get(f"expect_{path_name}") or {})
    if "fields" in override:
        expect["fields"] = {**(expect.get("fields") or {}), **override.pop("fields")}
    expect.update(override)
    return expect


def _message(item: Any, file_name: str) -> dict[str, Any]:
    if isinstance(item, str):
        return {"text": item}
    if not isinstance(item, Mapping) or set(item) - MESSAGE_KEYS:
        raise ValueError(f"{file_name}: a message is a string or a mapping of {sorted(MESSAGE_KEYS)}: {item!r}")
    return dict(item)


def _chat_message(item: Mapping[str, Any], at: datetime) -> ChatMessage:
    kind = item.get("kind", "text")
    text = str(item.get("text", ""))
    if kind != "text":
        # As conversations.agent_context.chat_message builds it: placeholder, then the caption.
        text = " ".join(filter(None, [KIND_PLACEHOLDERS.get(kind, ""), text]))
    return ChatMessage(
        role="customer",
        text=text,
        kind=kind,
        at=at,
        media_text=str(item.get("media_text", "")),
        media_failed=bool(item.get("media_failed", False)),
    )


def _field(item: Mapping[str, Any]) -> QualificationField:
    return QualificationField(
        key=item["key"],
        question=item.get("question", ""),
        type=item.get("type", "text"),
        weight=int(item.get("weight", 0)),
        required=bool(item.get("required", True)),
    )
