"""Follow-ups: writing again to leads who went quiet, on the profile's cadence or when the agent said.

After each bot turn that leaves the lead with a question, the first step of the profile's cadence
is planned; the lead writing back, opting out or a human taking over cancels it (see ownership).
Beat sends what is due as proactive messages: the send gate applies the warm-up caps and quiet
hours to them (and the Cloud API's 24-hour window), so a follow-up never costs a number its health.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from django.db import transaction
from django.utils import timezone

from agent.followup import followup_text
from chips.pacing import PROACTIVE_STATUSES, chip_for_proactive, daily_cap, sends_today
from conversations.agent_context import lead_facts, profile_data
from conversations.models import Conversation, FollowUp, FollowUpStatus, Message, Owner
from conversations.routing import conversation_open
from conversations.statuses import Direction, MessageOrigin, MessageStatus

log = structlog.get_logger(__name__)

BATCH = 200


def followup_plan_first(*, conversation: Conversation, now: datetime) -> FollowUp | None:
    """Plan step 1 of the cadence unless something is already planned (call inside the turn's transaction)."""
    cadence = conversation.profile.followup_cadence_hours or []
    if not cadence or FollowUp.objects.filter(conversation=conversation, status=FollowUpStatus.SCHEDULED).exists():
        return None
    return FollowUp.objects.create(
        conversation=conversation, due_at=now + timedelta(hours=cadence[0]), step=1, reason="cadence"
    )


def followups_send_due(*, now: datetime | None = None) -> int:
    """Turn every due follow-up into a proactive message and queue its delivery; returns how many."""
    from conversations.tasks import deliver_outbound

    now = now or timezone.now()
    due = list(
        FollowUp.objects.filter(status=FollowUpStatus.SCHEDULED, due_at__lte=now).values_list("pk", flat=True)[:BATCH]
    )
    queued = []
    for followup_id in due:
        conversation_id = _send_one(followup_id, now)
        if conversation_id:
            queued.append(conversation_id)
    for conversation_id in dict.fromkeys(queued):
        deliver_outbound.delay(conversation_id)
    return len(queued)


def _send_one(followup_id: int, now: datetime) -> int | None:
    with transaction.atomic():
        followup = (
            FollowUp.objects.select_for_update()
            .select_related("conversation__lead", "conversation__profile", "conversation__chip__gateway")
            .filter(pk=followup_id, status=FollowUpStatus.SCHEDULED)
            .first()
        )
        if followup is None:  # another beat run took it
            return None
        conversation = followup.conversation
        reason = _not_now(conversation)
        if reason:
            followup.status, followup.reason = FollowUpStatus.CANCELLED, reason
            followup.save(update_fields=["status", "reason", "updated_at"])
            return None
        conversation = _proactive_conversation(conversation, now)
        if conversation is None:
            return None  # no chip has room today: stays scheduled, beat tries again
        cadence = conversation.profile.followup_cadence_hours or []
        last = followup.step >= len(cadence)
        text = followup_text(
            profile=profile_data(conversation.profile),
            lead_fields=lead_facts(conversation.lead),
            push_name=conversation.lead.push_name,
            step=followup.step,
            last=last,
        )
        Message.objects.create(
            chip_id=conversation.chip_id,
            conversation=conversation,
            direction=Direction.OUT,
            origin=MessageOrigin.AGENT,
            kind="text",
            text=text,
            provider=conversation.chip.gateway.kind,
            status=MessageStatus.PENDING,
            proactive=True,
            purpose="followup",
            processed_at=now,
        )
        followup.status = FollowUpStatus.SENT
        followup.save(update_fields=["status", "updated_at"])
        if not last:
            FollowUp.objects.create(
                conversation=conversation,
                due_at=now + timedelta(hours=cadence[followup.step]),
                step=followup.step + 1,
                reason="cadence",
            )
    log.info("followup.queued", conversation_id=conversation.pk, step=followup.step)
    return conversation.pk


def _proactive_conversation(conversation: Conversation, now: datetime) -> Conversation | None:
    """Where the follow-up goes: the lead's own chip while it can carry proactive work, else the
    healthiest chip of the profile with capacity left today (a new conversation with the lead).

    Quiet hours are not a reason to move: they hold every chip alike, and the send gate waits them out.
    """
    chip = conversation.chip
    own_chip_can = chip.status in PROACTIVE_STATUSES and not _over_cap(chip, now)
    if own_chip_can:
        return conversation
    other = chip_for_proactive(profile_id=conversation.profile_id, now=now)
    if other is None:
        return None
    moved = conversation_open(lead=conversation.lead, chip_id=other.pk)
    log.info("followup.moved_chip", lead_id=conversation.lead_id, from_chip=chip.pk, to_chip=other.pk)
    return Conversation.objects.select_related("lead", "profile", "chip__gateway").get(pk=moved.pk)


def _over_cap(chip, now: datetime) -> bool:
    return sends_today(chip.pk, now) >= daily_cap(chip, now)


def _not_now(conversation: Conversation) -> str:
    if conversation.lead.opted_out_at is not None:
        return "the lead opted out"
    if conversation.owner == Owner.HUMAN:
        return "a person owns the conversation"
    if conversation.status != "open":
        return "the conversation is closed"
    return ""
