"""What the agent returns for one turn; `conversations` applies it in one transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass
class RunInfo:
    """Accounting for one turn, stored as an AgentRun."""

    model: str = "playbook"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: int = 0
    fallback_used: bool = False
    error: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    breaker_open: bool = False  # the LLM was skipped because its circuit breaker is open
    cost: Decimal = Decimal("0")  # USD, from the price table (agent.pricing)
    # This turn's failure opened the LLM circuit breaker (exactly one turn fleet-wide reports it):
    # the caller raises the operator alert.
    breaker_just_opened: bool = False
    # Notable events of the turn, e.g. "injection:role_change", "guard:url", "price_unknown".
    flags: list[str] = field(default_factory=list)


# The closed set of actions a decision may carry (the LLM's tools map onto them).
HANDOFF = "handoff"
FOLLOWUP = "followup"
QUOTE = "quote"
OPT_OUT = "opt_out"
ACTIONS = frozenset({HANDOFF, FOLLOWUP, QUOTE, OPT_OUT})


@dataclass
class Decision:
    bubbles: list[str] = field(default_factory=list)
    field_updates: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    score: int | None = None
    temperature: str | None = None  # cold, warm, hot
    stage: str | None = None  # new, engaged, qualifying, qualified, handed_off
    actions: list[str] = field(default_factory=list)  # members of ACTIONS
    handoff_reason: str = ""
    followup_at: datetime | None = None  # when to write again if the lead goes quiet
    quote_details: str = ""
    run: RunInfo = field(default_factory=RunInfo)
