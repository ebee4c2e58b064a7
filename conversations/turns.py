"""One agent turn: answer every unanswered customer message of a conversation, once.

A turn holds the conversation's lease while it runs, so turns of one conversation never overlap.
The agent is called outside any transaction (it may wait seconds on an LLM); its decision is
applied in one transaction that also marks the answered messages processed. A worker killed in
between commits nothing: the messages stay unanswered, the lease expires, and the turn runs again.
"""

from __future__ import annotations

import enum
import uuid
from datetime import timedelta
from decimal import Decimal

import structlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from agent.brain import decide
from agent.decision import Decision
from conversations.agent_context import LEAD_COLUMNS, llm_config, turn_context
from conversations.models import AgentRun, Conversation, Lead, Message, Owner, Stage
from conversations.statuses import Direction, MessageOrigin, MessageStatus

log = structlog.get_logger(__name__)

MAX_ROUNDS = 3  # messages that arrive during a turn are answered by the same task, a few times over


class TurnOutcome(enum.Enum):
    ANSWERED = "answered"
    NOTHING_TO_DO = "nothing_to_do"
    BUSY = "busy"  # another turn holds the lease
    LEASE_LOST = "lease_lost"  # our lease expired and another turn took over


def turn_run(*, conversation_id: int) -> TurnOutcome:
    outcome = TurnOutcome.NOTHING_TO_DO
    for _ in range(MAX_ROUNDS):
        token = _lease_acquire(conversation_id)
        if token is None:
            return TurnOutcome.BUSY if outcome is TurnOutcome.NOTHING_TO_DO else outcome
        try:
            round_outcome = _run_round(conversation_id, token)
        finally:
            _lease_release(conversation_id, token)
        if round_outcome is not TurnOutcome.ANSWERED:
            return outcome if round_outcome is TurnOutcome.NOTHING_TO_DO else round_outcome
        outcome = TurnOutcome.ANSWERED
        if not _unanswered(conversation_id).exists():  # nothing arrived meanwhile: no second round
            return outcome
    return outcome


def _unanswered(conversation_id: int):
    return Message.objects.filter(conversation_id=conversation_id, direction=Direction.IN, processed_at__isnull=True)


def _lease_acquire(conversation_id: int) -> str | None:
    now = timezone.now()
    token = str(uuid.uuid4())
    taken = (
        Conversation.objects.filter(pk=conversation_id)
        .filter(Q(turn_lease_until__isnull=True) | Q(turn_lease_until__lt=now))
        .update(turn_lease_until=now + timedelta(seconds=settings.TURN_LEASE_SECONDS), turn_lease_token=token)
    )
    return token if taken else None


def _lease_release(conversation_id: int, token: str) -> None:
    Conversation.objects.filter(pk=conversation_id, turn_lease_token=token).update(
        turn_lease_until=None, turn_lease_token=""
    )


def _run_round(conversation_id: int, token: str) -> TurnOutcome:
    conversation = Conversation.objects.select_related("lead", "profile").get(pk=conversation_id)
    pending = list(_unanswered(conversation_id).order_by("created_at", "id"))
    if not pending:
        return TurnOutcome.NOTHING_TO_DO
    if conversation.owner == Owner.HUMAN:
        _mark_answered([m.pk for m in pending])
        return TurnOutcome.NOTHING_TO_DO
    decision = decide(turn_context(conversation, pending), llm=llm_config(conversation.profile))
    applied = decision_apply(conversation_id=conversation_id, lease_token=token, answered=pending, decision=decision)
    if not applied:
        return TurnOutcome.LEASE_LOST
    log.info("turn.answered", conversation_id=conversation_id, messages=len(pending), bubbles=len(decision.bubbles))
    return TurnOutcome.ANSWERED


def decision_apply(*, conversation_id: int, lease_token: str, answered: list[Message], decision: Decision) -> bool:
    """Apply the agent's decision in one transaction; False if our lease was lost meanwhile.

    Sending the new bubbles is the caller's next step (the task enqueues it; the sweeper catches a
    worker that died in between).
    """
    now = timezone.now()
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().select_related("lead").get(pk=conversation_id)
        if conversation.turn_lease_token != lease_token:
            return False
        if _mark_answered([m.pk for m in answered]) != len(answered):
            # Someone else answered part of these: abandon ours rather than answer twice.
            transaction.set_rollback(True)
            return False
        run = AgentRun.objects.create(
            conversation=conversation,
            model=decision.run.model,
            prompt_tokens=decision.run.prompt_tokens,
            completion_tokens=decision.run.completion_tokens,
            cost=Decimal("0"),
            latency_ms=decision.run.latency_ms,
            tool_calls=decision.run.tool_calls,
            fallback_used=decision.run.fallback_used,
            error=decision.run.error[:500],
        )
        _lead_apply(conversation.lead, decision)
        conversation.agent_state = decision.state
        conversation_fields = ["agent_state", "updated_at"]
        if "handoff" in decision.actions:
            conversation.owner = Owner.HUMAN
            conversation.human_until = now + timedelta(minutes=conversation.profile.human_idle_minutes)
            conversation_fields += ["owner", "human_until"]
        bubbles = [bubble.strip() for bubble in decision.bubbles if bubble and bubble.strip()]
        Message.objects.bulk_create(
            Message(
                chip_id=conversation.chip_id,
                conversation=conversation,
                direction=Direction.OUT,
                origin=MessageOrigin.AGENT,
                kind="text",
                text=bubble,
                provider=answered[0].provider,  # the chip's gateway, as the customer's message says
                status=MessageStatus.PENDING,
                sequence=index,
                agent_run=run,
                processed_at=now,  # outbound rows never go through the inbound relay
            )
            for index, bubble in enumerate(bubbles)
        )
        conversation.save(update_fields=conversation_fields)
    return True


def _mark_answered(message_ids: list[int]) -> int:
    return Message.objects.filter(pk__in=message_ids, processed_at__isnull=True).update(
        status=MessageStatus.PROCESSED, processed_at=timezone.now()
    )


def _lead_apply(lead: Lead, decision: Decision) -> None:
    fields = ["fields", "updated_at"]
    for key, value in decision.field_updates.items():
        if value in (None, ""):
            continue
        lead.fields[key] = value
        if key in LEAD_COLUMNS and _valid_column_value(key, value):
            setattr(lead, key, str(value)[: Lead._meta.get_field(key).max_length])
            fields.append(key)
    if decision.score is not None:
        lead.score = max(0, min(100, int(decision.score)))
        fields.append("score")
    if decision.temperature:
        lead.temperature = decision.temperature
        fields.append("temperature")
    stage = decision.stage or (Stage.HANDED_OFF if "handoff" in decision.actions else None)
    if stage:
        lead.stage = stage
        fields.append("stage")
    elif lead.stage == Stage.NEW:
        lead.stage = Stage.ENGAGED
        fields.append("stage")
    lead.save(update_fields=list(dict.fromkeys(fields)))


def _valid_column_value(key: str, value) -> bool:
    if key != "email":
        return isinstance(value, str)
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True
