"""Build what the LLM reads: the system prompt from the profile and the recent conversation."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from string import Template
from typing import Any

from agent.context import ChatMessage, Profile, TurnContext
from agent.scoring import is_answered

PROMPTS_DIR = Path(__file__).parent / "prompts"
HISTORY_LIMIT = 20
# Shown for a blank profile section, so the model knows it is unknown rather than left out.
NOT_INFORMED = "(não informado)"
NOTHING_YET = "(nada ainda)"

_ROLE_FOR = {"customer": "user", "agent": "assistant", "human": "assistant"}


@cache
def _template(name: str) -> Template:
    return Template((PROMPTS_DIR / name).read_text(encoding="utf-8"))


def build_system_prompt(profile: Profile, lead_fields: Mapping[str, Any], push_name: str = "") -> str:
    """The system prompt for `profile`, marking which questions `lead_fields` already answers."""
    return (
        _template("system.md")
        .substitute(
            company_name=profile.company_name,
            company_description=_or_not_informed(profile.company_description),
            offer_description=_or_not_informed(profile.offer_description),
            tone=_or_not_informed(profile.tone),
            questions=_questions(profile, lead_fields),
            push_name=_or_not_informed(push_name),
            lead_facts=_lead_facts(lead_fields),
            extra_instructions=_or_not_informed(profile.system_prompt_extra),
        )
        .strip()
    )


def build_chat_messages(context: TurnContext) -> list[dict[str, str]]:
    """The system prompt plus the last HISTORY_LIMIT conversation entries, as Chat Completions messages."""
    system = build_system_prompt(context.profile, context.lead_fields, context.push_name)
    # History normally ends with the new messages; fall back to them when the caller sent none.
    recent = (context.history or context.new_messages)[-HISTORY_LIMIT:]
    return [{"role": "system", "content": system}, *(_chat_message(message) for message in recent)]


def _chat_message(message: ChatMessage) -> dict[str, str]:
    # Media without a caption still happened in the conversation; say what it was.
    content = message.text.strip() or f"[{message.kind}]"
    return {"role": _ROLE_FOR.get(message.role, "user"), "content": content}


def _questions(profile: Profile, lead_fields: Mapping[str, Any]) -> str:
    if not profile.fields:
        return NOTHING_YET
    lines = []
    for position, field in enumerate(profile.fields, start=1):
        status = "já respondida" if is_answered(lead_fields.get(field.key)) else "pendente"
        optional = ", opcional" if not field.required else ""
        lines.append(f"{position}. {field.question} ({status}{optional})")
    return "\n".join(lines)


def _lead_facts(lead_fields: Mapping[str, Any]) -> str:
    facts = [f"- {key}: {value}" for key, value in lead_fields.items() if is_answered(value)]
    return "\n".join(facts) or NOTHING_YET


def _or_not_informed(text: str) -> str:
    return text.strip() or NOT_INFORMED
