"""The safety net behind the relay and the outbox, run by beat every few seconds.

- Inbound rows handed over long ago but still unanswered (a lost publish, a dead worker, an
  expired lease) lose their stamp, so the relay hands them over again.
- Pending outbound rows nobody picked up (the worker died after the turn committed) are
  delivered.
- Sends stuck in `sending` (the worker died mid-call) become `unknown`: they may have gone out,
  so they are not re-sent; the gateway's echo and status events settle them.
- Conversations whose human went quiet past `human_until` go back to the bot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from chips.services import alert_raise
from conversations.models import Message
from conversations.ownership import bot_return_due
from conversations.statuses import OUTBOUND_RANK, Direction, MessageOrigin, MessageStatus

PENDING_GRACE = timedelta(seconds=30)


@dataclass
class SweepReport:
    rehanded: int = 0
    redelivered_conversations: int = 0
    unknown: int = 0
    returned_to_bot: int = 0


def sweep() -> SweepReport:
    from conversations.tasks import deliver_outbound

    now = timezone.now()
    report = SweepReport()
    report.rehanded = Message.objects.filter(
        processed_at__isnull=True, handed_at__lt=now - timedelta(seconds=settings.INBOUND_REHAND_SECONDS)
    ).update(handed_at=None)

    stale_pending = (
        Message.objects.filter(
            direction=Direction.OUT,
            origin=MessageOrigin.AGENT,
            status=MessageStatus.PENDING,
            updated_at__lt=now - PENDING_GRACE,
        )
        .order_by()  # without the default ordering, DISTINCT is over conversation ids alone
        .values_list("conversation_id", flat=True)
        .distinct()
    )
    for conversation_id in stale_pending:
        deliver_outbound.delay(conversation_id)
        report.redelivered_conversations += 1

    stuck = Message.objects.filter(
        direction=Direction.OUT,
        status=MessageStatus.SENDING,
        updated_at__lt=now - timedelta(seconds=settings.OUTBOUND_STUCK_SECONDS),
    )
    for message in stuck:
        moved = Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
            status=MessageStatus.UNKNOWN,
            status_rank=OUTBOUND_RANK[MessageStatus.UNKNOWN],
            error="send interrupted; waiting for the gateway to confirm",
            updated_at=now,
        )
        if moved:
            report.unknown += 1
            alert_raise(
                chip_id=message.chip_id,
                kind="send_outcome_unknown",
                message="A send was interrupted; it may or may not have reached the customer.",
                details={"message_id": message.pk},
            )
    report.returned_to_bot = bot_return_due(now=now)
    return report
