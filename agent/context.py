"""What the agent is given for one turn: plain data, no models."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Role = Literal["customer", "agent", "human"]


@dataclass(frozen=True)
class QualificationField:
    """One thing the agent must learn about a lead, asked in profile order."""

    key: str
    question: str
    type: str = "text"  # text, name, email, number, money, date
    weight: int = 0
    required: bool = True


@dataclass(frozen=True)
class Profile:
    """The business the agent speaks for (a copy of the AgentProfile row)."""

    name: str
    company_name: str
    company_description: str = ""
    offer_description: str = ""
    tone: str = ""
    system_prompt_extra: str = ""
    fields: tuple[QualificationField, ...] = ()
    hot_threshold: int = 70
    warm_threshold: int = 40
    model: str = ""
    # What an image usually is for this business, for the vision model ("read the bill's value").
    image_hint: str = ""
    # Money the agent may quote; anything else about prices is for a human.
    allowed_prices: str = ""
    # The most bubbles one answer may have (the profile's limit; overflow joins the last bubble).
    max_bubbles: int = 3


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    text: str
    kind: str = "text"
    at: datetime | None = None
    # What media understanding made of an audio, image or document ('' when none or it failed).
    media_text: str = ""
    media_failed: bool = False


@dataclass(frozen=True)
class TurnContext:
    """Everything one turn may look at.

    `history` is the recent conversation, oldest first, ending with `new_messages` (the customer
    messages this turn answers). `state` is the agent's own memory between turns, returned
    updated in the decision.
    """

    profile: Profile
    lead_fields: dict[str, Any]
    new_messages: tuple[ChatMessage, ...]
    history: tuple[ChatMessage, ...] = ()
    push_name: str = ""
    state: dict[str, Any] = field(default_factory=dict)
    # Business hours, as the conversation's clock sees them now.
    business_open: bool = True
    next_opening: str = ""  # e.g. "segunda-feira às 08:00", for "a person will answer ..."
    summary: str = ""  # older messages, summarised, when the history was cut


@dataclass(frozen=True)
class LLMConfig:
    """How to reach an OpenAI-compatible server; `enabled` only with a model and a key."""

    model: str = ""
    api_key: str = ""
    base_url: str = ""
    timeout_seconds: float = 30.0

    @property
    def enabled(self) -> bool:
        return bool(self.model and self.api_key)
