"""Sending the outbox: each message claimed before it is sent, so no retry sends it twice.

`pending → sending` is a conditional UPDATE: of any number of workers or retries, exactly one
claims a message. After the gateway call it becomes `sent` (with the gateway's id), `failed`
(permanent refusal), back to `pending` (transient failure: nothing reached the gateway) or
`unknown` (timed out after sending: the gateway's echo or status events settle it; it is never
re-sent blindly).

Before each send the chip's pacing (chips.pacing) is applied to every message: a slot a few
seconds away is waited for here; a later one, and for proactive messages quiet hours or a reached
daily cap, put the message back to `pending` with the reason and the moment it may go
(`DeliveryReport.postponed_until`): it is postponed, never failed, and the bubbles behind it wait
too, so a conversation's order is kept.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Value, When
from django.db.models.functions import Greatest
from django.utils import timezone

from chips.lifecycle import OUT_OF_SERVICE, ChipStatus
from chips.models import AlertSeverity, Chip
from chips.pacing import PacingSlotTooFar, Postponement, pacing_reserve, proactive_postponement
from chips.selectors import RoutedChip, chip_for_send
from chips.services import TransitionNotAllowed, alert_raise, chip_transition
from conversations.inbound import apply_early_status
from conversations.models import Conversation, Message
from conversations.statuses import OPT_OUT_ACK, OUTBOUND_RANK, Direction, MessageOrigin, MessageStatus
from integrations.providers.base import Contact, OutboundMedia, Provider, ProviderError, SendResult
from integrations.providers.registry import provider_class, provider_for

log = structlog.get_logger(__name__)

# A pacing slot this close is waited for by the worker; a later one is left to a delayed retry, so
# no worker sleeps long (and `next_send_at` never runs far ahead of the present, see pacing_reserve).
PACING_MAX_SLEEP = timedelta(seconds=8)


class TransientSendError(Exception):
    """A send failed in a way worth retrying later (the message is pending again)."""


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    # The next bubble was postponed (pacing, quiet hours, daily cap): deliver again at this moment.
    postponed_until: datetime | None = None


def outbound_deliver(*, conversation_id: int) -> DeliveryReport:
    """Send the conversation's pending messages in order; raises TransientSendError to be retried.

    Stops at a postponed message (`report.postponed_until` says when to deliver again).
    """
    report = DeliveryReport()
    conversation = Conversation.objects.select_related("lead").get(pk=conversation_id)
    chip = chip_for_send(conversation.chip_id)
    # Gateway clients are shared per process: connections stay alive between bubbles and turns.
    provider = provider_for(chip.gateway, timeout=settings.GATEWAY_HTTP_TIMEOUT)
    activation_due = chip.status == ChipStatus.READY
    try:
        while True:
            message = _claim_next(conversation_id)
            if message is None:
                break
            blocked = _gate(conversation_id, chip, message) or _proactive_obsolete(conversation_id, message)
            if blocked:
                _finish(message, status=MessageStatus.FAILED, error=blocked)
                report.failed += 1
                continue
            postponement = _pace(chip, message)
            if postponement is not None:
                _postpone(message, postponement)
                report.postponed_until = postponement.until
                break  # the bubbles behind it wait too: order is kept
            sent_before = report.sent
            _send_one(provider, conversation, chip, message, report)
            if activation_due and report.sent > sent_before:
                _activate(chip)
                activation_due = False
    finally:
        if report.sent:
            Conversation.objects.filter(pk=conversation_id).update(last_outbound_at=timezone.now())
    return report


def _claim_next(conversation_id: int) -> Message | None:
    """Claim the oldest unsent bubble, unless an earlier one is still in flight (order matters)."""
    next_up = (
        Message.objects.filter(
            conversation_id=conversation_id,
            direction=Direction.OUT,
            origin=MessageOrigin.AGENT,
            status__in=[MessageStatus.PENDING, MessageStatus.SENDING],
        )
        .order_by("created_at", "sequence", "id")
        .first()
    )
    if next_up is None or next_up.status != MessageStatus.PENDING:
        return None
    claimed = Message.objects.filter(pk=next_up.pk, status=MessageStatus.PENDING).update(
        status=MessageStatus.SENDING, status_rank=OUTBOUND_RANK[MessageStatus.SENDING], updated_at=timezone.now()
    )
    return next_up if claimed else None


def _gate(conversation_id: int, chip: RoutedChip, message: Message) -> str:
    """Why a message must not go out now, or '' when it may (read fresh: an opt-out may just have come)."""
    # Read fresh for every bubble: an opt-out or a ban may land while a turn's bubbles go out.
    last_inbound_at, opted_out_at, chip_status = (
        Conversation.objects.filter(pk=conversation_id)
        .values_list("last_inbound_at", "lead__opted_out_at", "chip__status")
        .get()
    )
    # The one confirmation of an opt-out is the only message an opted-out lead still receives.
    if opted_out_at is not None and message.purpose != OPT_OUT_ACK:
        return "lead opted out"
    if chip_status in OUT_OF_SERVICE:
        return f"chip is {chip_status}"
    window = provider_class(chip.gateway.kind).service_window
    if window is not None and (last_inbound_at is None or timezone.now() - last_inbound_at > window):
        return "outside the 24-hour customer service window: only approved templates may be sent"
    return ""


def _proactive_obsolete(conversation_id: int, message: Message) -> str:
    """A proactive message exists to restart a silent conversation: once the customer has written after
    it was queued it has nothing left to do, and it must not hold the replies behind it (a postponed
    one would hold them until quiet hours end or the cap frees up)."""
    if not message.proactive:
        return ""
    wrote = Conversation.objects.filter(pk=conversation_id, last_inbound_at__gt=message.created_at).exists()
    return "not sent: the customer wrote after this proactive message was queued" if wrote else ""


def _pace(chip: RoutedChip, message: Message) -> Postponement | None:
    """Hold the send until the chip may make it: None once it may go now (after waiting for a near
    pacing slot), else why and until when it must wait.

    Quiet hours and the daily cap are checked before a pacing slot is taken, so proactive messages
    that cannot go do not push the replies' slots back.
    """
    if message.proactive and (postponement := _proactive_postponement(chip)):
        return postponement
    try:
        slot = pacing_reserve(chip_id=chip.chip_id, max_wait=PACING_MAX_SLEEP)
    except PacingSlotTooFar as far:
        return Postponement(reason=f"pacing: the chip's next send slot is at {far.at:%H:%M:%S} UTC", until=far.at)
    wait = (slot - timezone.now()).total_seconds()
    if wait <= 0:
        return None
    time.sleep(wait)
    # While this send waited for its slot another one may have used the day's last proactive send.
    return _proactive_postponement(chip) if message.proactive else None


def _proactive_postponement(chip: RoutedChip) -> Postponement | None:
    return proactive_postponement(Chip.objects.get(pk=chip.chip_id), timezone.now())


def _postpone(message: Message, postponement: Postponement) -> None:
    """Back to `pending` with the reason, dated the moment it may go.

    The sweeper re-delivers pending messages some seconds after their last update: dated in the
    future, a postponed message is not retried before its time (a follow-up held by quiet hours
    would otherwise be retried every sweep all night long).
    """
    Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
        status=MessageStatus.PENDING,
        status_rank=OUTBOUND_RANK[MessageStatus.PENDING],
        error=f"postponed: {postponement.reason}"[:500],
        updated_at=postponement.until,
    )
    log.info(
        "outbound.postponed",
        message_id=message.pk,
        chip_id=message.chip_id,
        proactive=message.proactive,
        until=postponement.until.isoformat(),
    )


def _activate(chip: RoutedChip) -> None:
    """A ready chip's first send: it carries traffic now."""
    try:
        chip_transition(
            chip_id=chip.chip_id, to_status=ChipStatus.ACTIVE, reason="first message sent", triggered_by="outbound"
        )
    except TransitionNotAllowed as exc:  # degraded or banned meanwhile: that status stands
        log.info("outbound.activation_skipped", chip_id=chip.chip_id, error=str(exc))


def _send_one(
    provider: Provider, conversation: Conversation, chip: RoutedChip, message: Message, report: DeliveryReport
) -> None:
    lead = conversation.lead
    recipient = Contact(phone=lead.phone, lid=lead.wa_lid, bsuid=lead.bsuid)
    try:
        if message.sequence == 0:
            _mark_answered_read(provider, chip, recipient, conversation.pk)
        _courtesy(provider.send_typing, chip.address, recipient, typing_ms(message.text or message.caption))
        result = _transmit(provider, chip, recipient, message)
    except ProviderError as exc:
        _handle_failure(message, exc, report)
        return
    _record_sent(message, result.provider_message_id)
    report.sent += 1


def _transmit(provider: Provider, chip: RoutedChip, recipient: Contact, message: Message) -> SendResult:
    if message.kind == "text":
        return provider.send_text(chip.address, recipient, message.text)
    media = OutboundMedia(
        kind=message.kind,
        url=message.media.get("url", ""),
        caption=message.caption or message.text,
        file_name=message.media.get("file_name", ""),
        mime_type=message.media.get("mime_type", ""),
    )
    return provider.send_media(chip.address, recipient, media)


def _courtesy(call, *args) -> None:
    """Typing and read receipts are courtesies: their failure must not cost the message itself."""
    try:
        call(*args)
    except ProviderError as exc:
        log.info("outbound.courtesy_failed", call=getattr(call, "__name__", "?"), error=str(exc))


def _mark_answered_read(provider: Provider, chip: RoutedChip, recipient: Contact, conversation_id: int) -> None:
    """Blue ticks on what this turn answers, before the reply: what a person does (and gateways advise)."""
    unread = Message.objects.filter(
        conversation_id=conversation_id,
        direction=Direction.IN,
        processed_at__isnull=False,
        read_receipt_at__isnull=True,
        provider_message_id__isnull=False,
    )
    ids = list(unread.values_list("provider_message_id", flat=True)[:50])
    if ids:
        _courtesy(provider.mark_read, chip.address, recipient, ids)
        unread.filter(provider_message_id__in=ids).update(read_receipt_at=timezone.now())


def outbound_stalled(*, conversation_id: int, error: str) -> None:
    """Retries are exhausted for a conversation's outbox: alert (the sweeper goes on trying)."""
    waiting = Message.objects.filter(
        conversation_id=conversation_id, direction=Direction.OUT, status=MessageStatus.PENDING
    ).first()
    if waiting is not None:
        alert_raise(
            chip_id=waiting.chip_id,
            kind="send_stalled",
            severity=AlertSeverity.CRITICAL,
            message=f"Replies are not getting through to the gateway: {error}",
            details={"conversation_id": conversation_id},
        )


def typing_ms(text: str) -> int:
    return max(settings.TYPING_MIN_MS, min(settings.TYPING_MAX_MS, len(text) * settings.TYPING_MS_PER_CHAR))


def _handle_failure(message: Message, exc: ProviderError, report: DeliveryReport) -> None:
    if exc.outcome_unknown:
        _finish(message, status=MessageStatus.UNKNOWN, error=str(exc))
        alert_raise(
            chip_id=message.chip_id,
            kind="send_outcome_unknown",
            message=f"A message may or may not have been sent: {exc}",
            details={"message_id": message.pk},
        )
        report.unknown += 1
        return
    if exc.permanent:
        _finish(message, status=MessageStatus.FAILED, error=str(exc))
        alert_raise(
            chip_id=message.chip_id,
            kind="send_failed",
            severity=AlertSeverity.WARNING,
            message=f"The gateway refused a message: {exc}",
            details={"message_id": message.pk, "status_code": exc.status_code},
        )
        report.failed += 1
        return
    Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
        status=MessageStatus.PENDING, status_rank=OUTBOUND_RANK[MessageStatus.PENDING], error=str(exc)[:500]
    )
    raise TransientSendError(str(exc))


def _finish(message: Message, *, status: str, error: str) -> None:
    Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
        status=status, status_rank=OUTBOUND_RANK[status], error=error[:500], updated_at=timezone.now()
    )


def _record_sent(message: Message, provider_message_id: str | None) -> None:
    """Mark sent with the gateway's id, folding in an echo of it that may have arrived first."""
    with transaction.atomic():
        rank = OUTBOUND_RANK[MessageStatus.SENT]
        status = MessageStatus.SENT
        if provider_message_id:
            echo = Message.objects.filter(
                chip_id=message.chip_id, provider_message_id=provider_message_id, origin=MessageOrigin.PHONE
            ).first()
            if echo is not None:
                rank, status = max((rank, status), (echo.status_rank, echo.status))
                echo.delete()
        now = timezone.now()
        Message.objects.filter(pk=message.pk).update(
            provider_message_id=provider_message_id,
            error="",
            sent_at=now,
            updated_at=now,
            # Forward only: the gateway's echo or a status may already have moved this row further.
            status=Case(When(status_rank__lt=rank, then=Value(status)), default=F("status")),
            status_rank=Greatest(F("status_rank"), Value(rank)),
        )
        if provider_message_id:
            message.provider_message_id = provider_message_id
            apply_early_status(message)


def outbound_settle_locally(*, conversation_id: int) -> list[str]:
    """For the terminal chat: pending bubbles are printed instead of sent through a gateway."""
    pending = list(
        Message.objects.filter(
            conversation_id=conversation_id,
            direction=Direction.OUT,
            origin=MessageOrigin.AGENT,
            status=MessageStatus.PENDING,
        ).order_by("created_at", "sequence", "id")
    )
    now = timezone.now()
    Message.objects.filter(pk__in=[m.pk for m in pending], status=MessageStatus.PENDING).update(
        status=MessageStatus.SENT, status_rank=OUTBOUND_RANK[MessageStatus.SENT], sent_at=now, updated_at=now
    )
    return [message.text for message in pending]
