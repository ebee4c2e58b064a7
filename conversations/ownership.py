"""Who answers a conversation: the bot, or a human who took it over.

A human takes over by answering from the chip's phone (a `fromMe` message Recado did not send) or,
later, from Chatwoot; the agent hands over by decision. While a human owns a conversation the bot
stays silent. Each human message pushes `human_until` forward; once it passes (the human went
quiet for `human_idle_minutes`) the sweeper gives the conversation back to the bot.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import structlog
from django.utils import timezone

from conversations.models import Conversation, FollowUp, FollowUpStatus, Message, Owner
from conversations.statuses import Direction, MessageOrigin, MessageStatus

log = structlog.get_logger(__name__)

# An agent send still settling this recently may be the very message a phone echo reports.
IN_FLIGHT_WINDOW = timedelta(minutes=2)


def own_send_in_flight(*, conversation_id: int, text: str, now: datetime | None = None) -> bool:
    """Whether an agent bubble with this text is being sent or awaits its gateway's confirmation.

    A `fromMe` echo of it that arrives then may be our own message (some gateways cannot say who
    sent it): deciding "a human answered" must wait until the send has settled. A different text
    cannot be our echo, so a person typing while the bot's bubbles go out takes over at once.
    """
    now = now or timezone.now()
    return Message.objects.filter(
        conversation_id=conversation_id,
        direction=Direction.OUT,
        origin=MessageOrigin.AGENT,
        status__in=[MessageStatus.SENDING, MessageStatus.UNKNOWN],
        updated_at__gte=now - IN_FLIGHT_WINDOW,
        text=text,
    ).exists()


def human_takeover(*, conversation_id: int, reason: str, now: datetime | None = None) -> bool:
    """A human answers this conversation from now on; True when it changed hands (or was extended)."""
    now = now or timezone.now()
    conversation = Conversation.objects.select_related("profile").get(pk=conversation_id)
    until = now + timedelta(minutes=conversation.profile.human_idle_minutes)
    changed = Conversation.objects.filter(pk=conversation_id).update(
        owner=Owner.HUMAN, human_until=until, updated_at=now
    )
    followups_cancel(conversation_id=conversation_id, reason=reason)
    if conversation.owner != Owner.HUMAN:
        log.info("conversation.human_takeover", conversation_id=conversation_id, reason=reason)
    return bool(changed)


def followups_cancel(*, conversation_id: int, reason: str) -> int:
    return followups_cancel_many(conversation_ids=[conversation_id], reason=reason)


def followups_cancel_many(*, conversation_ids: Iterable[int], reason: str) -> int:
    return FollowUp.objects.filter(conversation_id__in=conversation_ids, status=FollowUpStatus.SCHEDULED).update(
        status=FollowUpStatus.CANCELLED, reason=reason[:200], updated_at=timezone.now()
    )


def bot_return_due(*, now: datetime | None = None) -> int:
    """Give back to the bot every conversation whose human has been quiet past `human_until`."""
    now = now or timezone.now()
    due = Conversation.objects.filter(owner=Owner.HUMAN, human_until__lt=now)  # null: until a human hands back
    returned = due.update(owner=Owner.BOT, human_until=None, updated_at=now)
    if returned:
        log.info("conversation.bot_returned", count=returned)
    return returned
