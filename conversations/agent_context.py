"""Translating between our models and the agent's plain data (the agent never sees a model)."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.utils import timezone

from agent.context import ChatMessage, LLMConfig, Profile, QualificationField, TurnContext
from conversations.hours import opening_state
from conversations.models import AgentProfile, Conversation, Lead, Message
from conversations.statuses import Direction, MessageOrigin, MessageStatus

HISTORY_LENGTH = 20
# Older messages are given to the agent as a digest: the latest of them, each line cut short.
SUMMARY_MESSAGES = 30
SUMMARY_LINE_CHARS = 160
SUMMARY_MAX_CHARS = 2000
SPEAKERS = {"customer": "cliente", "agent": "assistente", "human": "atendente"}
# Media the agent is given a transcription, description or text of.
UNDERSTOOD_KINDS = frozenset({"audio", "image", "document"})
# Lead columns that mirror qualification answers of the same key.
LEAD_COLUMNS = ("name", "email", "company", "city")
KIND_PLACEHOLDERS = {
    "image": "[imagem]",
    "audio": "[áudio]",
    "video": "[vídeo]",
    "document": "[documento]",
    "sticker": "[figurinha]",
    "location": "[localização]",
    "contact": "[contato]",
    "reaction": "[reação]",
    "unknown": "[mensagem]",
}


def profile_data(profile: AgentProfile) -> Profile:
    return Profile(
        name=profile.name,
        company_name=profile.company_name,
        company_description=profile.company_description,
        offer_description=profile.offer_description,
        tone=profile.tone,
        system_prompt_extra=profile.system_prompt_extra,
        fields=tuple(
            QualificationField(
                key=item["key"],
                question=item.get("question", ""),
                type=item.get("type", "text"),
                weight=int(item.get("weight", 0)),
                required=bool(item.get("required", True)),
            )
            for item in profile.qualification_fields
            if isinstance(item, dict) and item.get("key")
        ),
        hot_threshold=profile.hot_threshold,
        warm_threshold=profile.warm_threshold,
        model=profile.model,
        image_hint=profile.image_hint,
        allowed_prices=profile.allowed_prices,
        max_bubbles=profile.max_bubbles,
    )


def lead_facts(lead: Lead) -> dict:
    facts = dict(lead.fields)
    for column in LEAD_COLUMNS:
        value = getattr(lead, column)
        if value and not facts.get(column):
            facts[column] = value
    return facts


def chat_message(message: Message) -> ChatMessage:
    if message.direction == Direction.IN:
        role = "customer"
    else:
        role = "agent" if message.origin == MessageOrigin.AGENT else "human"
    text = message.text or message.caption
    if message.kind != "text":
        text = " ".join(filter(None, [KIND_PLACEHOLDERS.get(message.kind, ""), text]))
    return ChatMessage(
        role=role,
        text=text,
        kind=message.kind,
        at=message.provider_timestamp or message.created_at,
        media_text=message.media_text,
        # Not fetched, or fetched and not understood: the agent says so instead of pretending it saw the file.
        media_failed=message.kind in UNDERSTOOD_KINDS
        and not message.media_text
        and bool(message.media.get("error") or message.media.get("understanding_error")),
    )


def turn_context(conversation: Conversation, pending: list[Message], *, now: datetime | None = None) -> TurnContext:
    """The profile, what we know of the lead, the last messages up to those being answered, and a
    digest of the older ones."""
    pending_ids = {message.pk for message in pending}
    earlier_messages = conversation.messages.exclude(pk__in=pending_ids).exclude(
        direction=Direction.OUT, status__in=[MessageStatus.FAILED]
    )
    earlier = list(earlier_messages.order_by("-created_at", "-id")[:HISTORY_LENGTH])
    new_messages = tuple(chat_message(message) for message in pending)
    history = (tuple(chat_message(message) for message in reversed(earlier)) + new_messages)[-HISTORY_LENGTH:]
    shown_earlier = max(0, len(history) - len(new_messages))
    # Fewer earlier messages than a page, all of them shown: nothing older to digest (no query).
    everything_shown = len(earlier) < HISTORY_LENGTH and shown_earlier >= len(earlier)
    summary = "" if everything_shown else older_digest(earlier_messages, shown=shown_earlier)
    profile = conversation.profile
    now = now or timezone.now()
    hours = opening_state(
        business_hours=profile.business_hours, holidays=profile.holidays, time_zone=profile.timezone, now=now
    )
    return TurnContext(
        profile=profile_data(profile),
        business_open=hours.is_open,
        next_opening=hours.next_opening_text(now),
        lead_fields=lead_facts(conversation.lead),
        new_messages=new_messages,
        history=history,
        push_name=conversation.lead.push_name,
        state=dict(conversation.agent_state),
        summary=summary,
    )


def older_digest(earlier_messages, *, shown: int) -> str:
    """What was said before the messages the agent sees, newest last, within SUMMARY_MAX_CHARS ('' if nothing).

    A digest of who said what rather than a model-written summary: it costs no extra call, and the
    lead's recorded facts already carry what matters most.
    """
    older = list(earlier_messages.order_by("-created_at", "-id")[shown : shown + SUMMARY_MESSAGES])
    lines: list[str] = []
    size = 0
    for message in older:  # newest first, so the cut drops the oldest
        item = chat_message(message)
        text = " ".join(filter(None, [item.text, item.media_text])).strip()
        if not text:
            continue
        line = f"- {SPEAKERS[item.role]}: {text[:SUMMARY_LINE_CHARS]}"
        if size + len(line) > SUMMARY_MAX_CHARS:
            break
        lines.append(line)
        size += len(line) + 1
    return "\n".join(reversed(lines))


def llm_config(profile: AgentProfile) -> LLMConfig:
    return LLMConfig(
        model=profile.model or settings.AGENT_MODEL,
        api_key=settings.OPENAI_API_KEY,
        base_url=settings.OPENAI_BASE_URL,
        timeout_seconds=settings.AGENT_TIMEOUT_SECONDS,
    )
