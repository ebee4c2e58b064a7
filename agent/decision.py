"""What the agent returns for one turn; `conversations` applies it in one transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
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


@dataclass
class Decision:
    bubbles: list[str] = field(default_factory=list)
    field_updates: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    score: int | None = None
    temperature: str | None = None  # cold, warm, hot
    stage: str | None = None  # new, engaged, qualifying, qualified, handed_off
    actions: list[str] = field(default_factory=list)  # e.g. "handoff"
    run: RunInfo = field(default_factory=RunInfo)
