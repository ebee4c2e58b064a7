"""One agent turn: answer every unanswered customer message of a conversation, once.

A turn holds the conversation's lease while it runs, so turns of one conversation never overlap.
The agent is called outside any transaction (it may wait seconds on an LLM); its decision is
applied in one transaction that also marks the answered messages processed. A worker killed in
between commits nothing: the messages stay unanswered, the lease expires, and the turn runs again.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from agent.brain import decide
from agent.decision import FOLLOWUP, HANDOFF, OPT_OUT, QUOTE, Decision, RunInfo
from agent.fallback import OPT_OUT_CONFIRMATION
from agent.optout import is_opt_out
from chips.models import AlertSeverity
from chips.services import alert_raise
from conversations.agent_context import LEAD_COLUMNS, UNDERSTOOD_KINDS, llm_config, turn_context
from conversations.followups import followup_plan_first
from conversations.hours import opening_state
from conversations.models import AgentProfile, AgentRun, Conversation, FollowUp, Lead, Message, Owner, Stage
from conversations.ownership import followups_cancel
from conversations.statuses import OPT_OUT_ACK, Direction, MessageOrigin, MessageStatus

log = structlog.get_logger(__name__)

MAX_ROUNDS = 3  # messages that arrive during a turn are answered by the same task, a few times over
MEDIA_POLL = timedelta(seconds=2)
# Reading an audio or image takes a few seconds: even with a short debounce, allow that long for it.
MEDIA_WAIT_FLOOR = timedelta(seconds=45)


class TurnOutcome(enum.Enum):
    ANSWERED = "answered"
    NOTHING_TO_DO = "nothing_to_do"
    BUSY = "busy"  # another turn holds the lease
    LEASE_LOST = "lease_lost"  # our lease expired and another turn took over
    WAITING = "waiting"  # the customer may still be typing, or their media is being read: see turn_wait


def turn_wait(*, conversation_id: int, now: datetime | None = None) -> float:
    """Seconds to hold the turn: a burst is answered once, after the customer paused.

    The turn waits `debounce_seconds` after the latest unanswered message, but never longer than
    `debounce_max_wait_seconds` after the first one, so a chatty customer is not starved. It also
    waits (within the same bound) for audio, images and documents still being fetched and read,
    so the agent answers what the customer sent rather than a placeholder.
    """
    return turn_waits(conversation_ids=[conversation_id], now=now).get(conversation_id, 0.0)


def turn_waits(*, conversation_ids: Iterable[int], now: datetime | None = None) -> dict[int, float]:
    """`turn_wait` for many conversations in two queries (a relay batch schedules its turns with it)."""
    now = now or timezone.now()
    conversation_ids = list(conversation_ids)
    profiles = {
        row["pk"]: row
        for row in Conversation.objects.filter(pk__in=conversation_ids).values(
            "pk", "profile__debounce_seconds", "profile__debounce_max_wait_seconds"
        )
    }
    unanswered: dict[int, list] = {}
    rows = Message.objects.filter(
        conversation_id__in=conversation_ids, direction=Direction.IN, processed_at__isnull=True
    ).values_list("conversation_id", "created_at", "kind", "media_text", "media")
    for conversation_id, *row in rows:
        unanswered.setdefault(conversation_id, []).append(row)
    return {
        conversation_id: _wait(profiles[conversation_id], unanswered[conversation_id], now)
        for conversation_id in conversation_ids
        if conversation_id in profiles and conversation_id in unanswered
    }


def _wait(profile: dict, unanswered: list, now: datetime) -> float:
    first = min(row[0] for row in unanswered)
    last = max(row[0] for row in unanswered)
    deadline = first + timedelta(seconds=profile["profile__debounce_max_wait_seconds"])
    ready_at = last + timedelta(seconds=profile["profile__debounce_seconds"])
    if any(_media_unread(kind, media_text, media) for _, kind, media_text, media in unanswered):
        ready_at = max(ready_at, now + MEDIA_POLL)
        deadline = max(deadline, first + MEDIA_WAIT_FLOOR)
    return max(0.0, (min(ready_at, deadline) - now).total_seconds())


def _media_unread(kind: str, media_text: str, media: dict) -> bool:
    return kind in UNDERSTOOD_KINDS and not media_text and not media.get("error") and not media.get("understood")


def turn_run(*, conversation_id: int, debounce: bool = True) -> TurnOutcome:
    """Answer what the customer sent; `debounce=False` answers at once (the terminal chat: one line, one turn)."""
    if debounce and turn_wait(conversation_id=conversation_id) > 0:
        return TurnOutcome.WAITING
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
        if debounce and turn_wait(conversation_id=conversation_id) > 0:
            return outcome  # the new messages' own turn tasks answer them once the customer pauses
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
    if any(is_opt_out(message.text or message.media_text) for message in pending):
        # STOP is the law of the land (LGPD, WhatsApp policy): honoured by rule, whatever a model would say.
        # The confirmation promises nothing more: every later message to this lead is blocked.
        decision = Decision(
            bubbles=[OPT_OUT_CONFIRMATION],
            state={**conversation.agent_state, "opted_out": True, "awaiting": None},
            actions=[OPT_OUT],
            run=RunInfo(model="rule:opt_out"),
        )
    else:
        decision = decide(turn_context(conversation, pending), llm=llm_config(conversation.profile))
    applied = decision_apply(conversation_id=conversation_id, lease_token=token, answered=pending, decision=decision)
    if not applied:
        return TurnOutcome.LEASE_LOST
    if decision.run.breaker_just_opened:
        # One turn fleet-wide sees the breaker open; until it closes, the offline playbook answers.
        alert_raise(
            chip_id=None,
            kind="llm_breaker_open",
            severity=AlertSeverity.CRITICAL,
            message="The LLM keeps failing: the offline playbook answers customers until it recovers.",
            details={"error": decision.run.error[:300], "model": decision.run.model},
        )
    log.info("turn.answered", conversation_id=conversation_id, messages=len(pending), bubbles=len(decision.bubbles))
    return TurnOutcome.ANSWERED


def decision_apply(*, conversation_id: int, lease_token: str, answered: list[Message], decision: Decision) -> bool:
    """Apply the agent's decision in one transaction; False if our lease was lost meanwhile.

    Sending the new bubbles is the caller's next step (the task enqueues it; the sweeper catches a
    worker that died in between).
    """
    now = timezone.now()
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(of=("self", "lead"))
            .select_related("lead", "profile")
            .get(pk=conversation_id)
        )
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
            cost=decision.run.cost,
            latency_ms=decision.run.latency_ms,
            tool_calls=decision.run.tool_calls,
            fallback_used=decision.run.fallback_used,
            error=decision.run.error[:500],
        )
        _lead_apply(conversation.lead, decision)
        conversation.agent_state = decision.state
        conversation_fields = ["agent_state", "updated_at"]
        bubbles = [bubble.strip() for bubble in decision.bubbles if bubble and bubble.strip()]
        purpose = ""
        if OPT_OUT in decision.actions:
            _opt_out(conversation, now)
            bubbles, purpose = bubbles[:1], OPT_OUT_ACK  # one confirmation, then silence
        elif HANDOFF in decision.actions:
            conversation.owner = Owner.HUMAN
            conversation.human_until = _handoff_until(conversation.profile, now)
            conversation.agent_state = {**decision.state, "handoff_reason": decision.handoff_reason[:200]}
            conversation_fields += ["owner", "human_until"]
            followups_cancel(conversation_id=conversation.pk, reason="handed off to a person")
        if FOLLOWUP in decision.actions and decision.followup_at and OPT_OUT not in decision.actions:
            followups_cancel(conversation_id=conversation.pk, reason="the agent planned another")
            FollowUp.objects.create(conversation=conversation, due_at=decision.followup_at, reason="agent scheduled")
        elif bubbles and conversation.owner == Owner.BOT and not ({OPT_OUT, HANDOFF} & set(decision.actions)):
            followup_plan_first(conversation=conversation, now=now)
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
                purpose=purpose,
                processed_at=now,  # outbound rows never go through the inbound relay
            )
            for index, bubble in enumerate(bubbles)
        )
        conversation.save(update_fields=conversation_fields)
    return True


def _handoff_until(profile: AgentProfile, now: datetime) -> datetime:
    """When a conversation handed to a person goes back to the bot if nobody has answered.

    A person gets `human_idle_minutes` to speak up, counted from when the team is back: a customer
    told "uma pessoa te responde segunda às 08:00" must not find the bot again on Sunday evening.
    """
    hours = opening_state(
        business_hours=profile.business_hours, holidays=profile.holidays, time_zone=profile.timezone, now=now
    )
    start = hours.next_opening if not hours.is_open and hours.next_opening else now
    return max(now, start) + timedelta(minutes=profile.human_idle_minutes)


def _opt_out(conversation: Conversation, now: datetime) -> None:
    """Record the opt-out (LGPD: the lead asked us to stop) and drop whatever was planned for them."""
    Lead.objects.filter(pk=conversation.lead_id, opted_out_at__isnull=True).update(opted_out_at=now, updated_at=now)
    followups_cancel(conversation_id=conversation.pk, reason="the lead opted out")
    Message.objects.filter(
        conversation__lead_id=conversation.lead_id,
        direction=Direction.OUT,
        origin=MessageOrigin.AGENT,
        status=MessageStatus.PENDING,
    ).update(status=MessageStatus.FAILED, error="lead opted out", updated_at=now)


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
    if QUOTE in decision.actions and decision.quote_details:
        lead.fields["quote_request"] = decision.quote_details[:1000]
    if decision.score is not None:
        lead.score = max(0, min(100, int(decision.score)))
        fields.append("score")
    if decision.temperature:
        lead.temperature = decision.temperature
        fields.append("temperature")
    stage = decision.stage or (Stage.HANDED_OFF if HANDOFF in decision.actions else None)
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
