"""What a playbook turn reads (the customer's words, its clock, its stored state) and how its
bubbles are shaped before they leave."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agent import dates, intents, phrases
from agent.context import ChatMessage, TurnContext
from agent.text import clip, squash, without_media_placeholder

MAX_BUBBLES = 3
MAX_BUBBLE_CHARS = 300


@dataclass
class CustomerMessage:
    text: str  # the customer's words: typed text, or what media understanding made of a file
    failed_media: str = ""  # kind of a file we could not read ("audio"), '' otherwise

    @property
    def injection(self) -> bool:
        return intents.is_injection(self.text)


def customer_messages(messages: tuple[ChatMessage, ...]) -> list[CustomerMessage]:
    """The customer's words in this turn: typed text, or the transcription/description of media
    (with its caption), which is read exactly as if the customer had typed it."""
    found = []
    for message in messages:
        if message.role != "customer":
            continue
        caption = without_media_placeholder(message.text or "") if message.kind != "text" else (message.text or "")
        media_text = (message.media_text or "").strip()
        words = squash(f"{caption} {media_text}" if caption and media_text else media_text or caption)
        failed = (message.kind or "media") if message.media_failed and not media_text else ""
        found.append(CustomerMessage(text=words, failed_media=failed))
    return found


def fit_bubbles(bubbles: list[str]) -> list[str]:
    """At most MAX_BUBBLES non-empty bubbles of at most MAX_BUBBLE_CHARS characters.

    The last bubble (the question) always survives: the introduction goes first, then the middle
    bubbles are merged.
    """
    bubbles = [squash(bubble) for bubble in bubbles if bubble and bubble.strip()]
    bubbles = list(dict.fromkeys(bubbles))  # the same sentence twice in a turn reads like a glitch
    if len(bubbles) > MAX_BUBBLES and phrases.INTRO in bubbles:
        bubbles.remove(phrases.INTRO)
    while len(bubbles) > MAX_BUBBLES:
        bubbles[-3:-1] = [bubbles[-3] + " " + bubbles[-2]]
    return [clip(bubble, MAX_BUBBLE_CHARS) for bubble in bubbles]


def clean_state(raw: Any) -> dict[str, Any]:
    """The stored state, with the keys the playbook reads made safe (it may come from older code
    or from the LLM path); keys it does not know are kept as they are."""
    state = dict(raw) if isinstance(raw, Mapping) else {}
    if not isinstance(state.get("awaiting"), str | None):
        state["awaiting"] = None
    if "skipped" in state:
        skipped = state["skipped"]
        state["skipped"] = [key for key in skipped if isinstance(key, str)] if isinstance(skipped, list) else []
    if not isinstance(state.get("reasked"), str | None):
        state.pop("reasked")
    return state


def is_first_turn(context: TurnContext, state: Mapping[str, Any]) -> bool:
    # History counts too: after an LLM turn fell back here, the customer was already greeted.
    already_spoke = any(message.role != "customer" for message in context.history)
    return not state.get("greeted") and not already_spoke


def turn_clock(context: TurnContext) -> datetime:
    """The turn's time in Brazil: its newest message's (so replays are deterministic), else now."""
    times = [_aware(message.at) for message in (*context.history, *context.new_messages) if message.at is not None]
    moment = max(times) if times else datetime.now(tz=dates.BRAZIL)
    return moment.astimezone(dates.BRAZIL)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dates.UTC)
