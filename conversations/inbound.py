"""Recording what a webhook says, in the request, in one transaction, with no network call.

New messages are deduplicated by the unique (chip, provider message id) constraint, so the same
delivery arriving N times — concurrently or hours apart — is stored once. Nothing here calls the
broker: a stored, unprocessed inbound row *is* the outbox entry that the relay hands to workers.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from chips.connection import connection_event_apply
from chips.selectors import RoutedChip
from conversations.identity import lead_resolve
from conversations.ingest_sql import message_insert_new, message_stored_recently
from conversations.models import EarlyStatus, Message
from conversations.statuses import OUTBOUND_RANK, Direction, MessageOrigin, MessageStatus
from integrations.providers.base import (
    ConnectionUpdate,
    Event,
    IdentityLink,
    Ignored,
    InboundMessage,
    MessageEdited,
    MessageRevoked,
    QrUpdate,
    StatusUpdate,
)


@dataclass
class RecordOutcome:
    queued: list[int] = field(default_factory=list)  # new customer messages waiting for a turn
    recorded: int = 0  # other new rows (our number's own messages)
    duplicates: int = 0
    statuses: int = 0
    session_updates: int = 0
    ignored: list[str] = field(default_factory=list)

    def merge(self, other: RecordOutcome) -> None:
        self.queued += other.queued
        self.recorded += other.recorded
        self.duplicates += other.duplicates
        self.statuses += other.statuses
        self.session_updates += other.session_updates
        self.ignored += other.ignored


def webhook_events_record(*, chip: RoutedChip, events: list[Event]) -> RecordOutcome:
    outcome = RecordOutcome()
    # Several events share one transaction; a single one needs none beyond its own statement.
    with transaction.atomic() if len(events) > 1 else nullcontext():
        for event in events:
            if isinstance(event, InboundMessage):
                _record_message(chip, event, outcome)
            elif isinstance(event, StatusUpdate):
                message_status_apply(
                    chip_id=chip.chip_id,
                    provider_message_id=event.provider_message_id,
                    status=event.status,
                    error=event.error,
                )
                outcome.statuses += 1
            elif isinstance(event, MessageEdited):
                outcome.statuses += message_edit_apply(
                    chip_id=chip.chip_id, provider_message_id=event.provider_message_id, text=event.text
                )
            elif isinstance(event, MessageRevoked):
                outcome.statuses += message_revoke_apply(
                    chip_id=chip.chip_id, provider_message_id=event.provider_message_id
                )
            elif isinstance(event, (ConnectionUpdate, QrUpdate)):
                connection_event_apply(chip_id=chip.chip_id, update=event, triggered_by="webhook")
                outcome.session_updates += 1
            elif isinstance(event, IdentityLink):
                if event.contact.known:
                    lead_resolve(contact=contact_dict(event.contact))
            elif isinstance(event, Ignored):
                outcome.ignored.append(event.reason)
    return outcome


def contact_dict(contact) -> dict:
    return {"phone": contact.phone, "lid": contact.lid, "bsuid": contact.bsuid, "push_name": contact.push_name}


def message_edit_apply(*, chip_id: int, provider_message_id: str, text: str) -> int:
    """An edit replaces the text (the original stays in `raw`); it is not a delivery status."""
    return Message.objects.filter(chip_id=chip_id, provider_message_id=provider_message_id).update(
        text=text, edited_at=timezone.now(), updated_at=timezone.now()
    )


def message_revoke_apply(*, chip_id: int, provider_message_id: str) -> int:
    """ "Deleted for everyone": kept for the record, flagged; not a delivery status either."""
    return Message.objects.filter(chip_id=chip_id, provider_message_id=provider_message_id).update(
        revoked_at=timezone.now(), updated_at=timezone.now()
    )


def _record_message(chip: RoutedChip, event: InboundMessage, outcome: RecordOutcome) -> None:
    if not event.contact.known:
        outcome.ignored.append("message without any sender identity")
        return
    if event.from_me and event.sent_by_api and _settle_unknown_send(chip, event):
        outcome.recorded += 1
        return
    if message_stored_recently(chip.chip_id, event.provider_message_id):
        outcome.duplicates += 1  # a redelivery: no row to build, no statement
        return
    row = Message(
        chip_id=chip.chip_id,
        provider=chip.gateway.kind,
        provider_message_id=event.provider_message_id,
        kind=event.kind,
        text=event.text,
        caption=event.caption,
        media=_media(event),
        location=_location(event),
        reply_to_provider_id=event.quoted_id,
        contact=contact_dict(event.contact),
        raw=dict(event.raw),
        provider_timestamp=event.timestamp,
    )
    if event.from_me:
        # Typed on the phone (or an echo of our own send): recorded, never answered.
        row.direction = Direction.OUT
        row.origin = MessageOrigin.PHONE
        row.status = MessageStatus.SENT
        row.status_rank = OUTBOUND_RANK[MessageStatus.SENT]
        row.sent_at = event.timestamp or timezone.now()
    else:
        row.direction = Direction.IN
        row.origin = MessageOrigin.CONTACT
        row.status = MessageStatus.RECEIVED
    if message_insert_new(row) is None:
        outcome.duplicates += 1
        return
    if event.from_me:
        apply_early_status(row)
        outcome.recorded += 1
    else:
        outcome.queued.append(row.pk)


def _settle_unknown_send(chip: RoutedChip, event: InboundMessage) -> bool:
    """The gateway echoed a message we sent before (or instead of) answering our call.

    The echo proves it went out: the waiting row (timed out, or still in flight) takes the echo's
    id instead of a second row being recorded. Matched by chip, recipient and text, oldest first.
    """
    candidates = Message.objects.filter(
        chip_id=chip.chip_id,
        direction=Direction.OUT,
        origin=MessageOrigin.AGENT,
        # `sending`: the echo outran the gateway's answer to our own call (events are unordered).
        status__in=[MessageStatus.UNKNOWN, MessageStatus.SENDING],
        provider_message_id__isnull=True,
        text=event.text,
    )
    if event.contact.phone:
        candidates = candidates.filter(conversation__lead__phone=event.contact.phone)
    elif event.contact.lid:
        candidates = candidates.filter(conversation__lead__wa_lid=event.contact.lid)
    waiting = candidates.order_by("created_at", "id").first()
    if waiting is None:
        return False
    Message.objects.filter(pk=waiting.pk, provider_message_id__isnull=True).update(
        provider_message_id=event.provider_message_id,
        status=MessageStatus.SENT,
        status_rank=OUTBOUND_RANK[MessageStatus.SENT],
        error="",
        sent_at=event.timestamp or timezone.now(),
        updated_at=timezone.now(),
    )
    waiting.provider_message_id = event.provider_message_id
    apply_early_status(waiting)
    return True


def message_status_apply(*, chip_id: int, provider_message_id: str, status: str, error: str = "") -> bool:
    """Move an outbound message's status forward; never back. Returns True if it moved.

    One conditional UPDATE (`status_rank < new rank`) is the whole concurrency story: two updates
    racing each other both run it, and the higher rank wins whatever the order. An update for a
    message we do not know yet (events are unordered) is kept and applied when the id appears.
    """
    rank = OUTBOUND_RANK[status]
    changes = {"status": status, "status_rank": rank, "updated_at": timezone.now()}
    if error:
        changes["error"] = error[:500]
    moved = Message.objects.filter(
        chip_id=chip_id, provider_message_id=provider_message_id, direction=Direction.OUT, status_rank__lt=rank
    ).update(**changes)
    if moved:
        return True
    if Message.objects.filter(chip_id=chip_id, provider_message_id=provider_message_id).exists():
        return False  # known message already at or past this status, or an inbound one
    _keep_early_status(chip_id, provider_message_id, status, rank, error)
    return False


def _keep_early_status(chip_id: int, provider_message_id: str, status: str, rank: int, error: str) -> None:
    try:
        with transaction.atomic():
            EarlyStatus.objects.create(
                chip_id=chip_id, provider_message_id=provider_message_id, status=status, status_rank=rank, error=error
            )
    except IntegrityError:
        EarlyStatus.objects.filter(
            chip_id=chip_id, provider_message_id=provider_message_id, status_rank__lt=rank
        ).update(status=status, status_rank=rank, error=error)


def apply_early_status(message: Message) -> None:
    """Apply a status that arrived before the message's provider id was known."""
    early = EarlyStatus.objects.filter(chip_id=message.chip_id, provider_message_id=message.provider_message_id).first()
    if early is None:
        return
    Message.objects.filter(pk=message.pk, status_rank__lt=early.status_rank).update(
        status=early.status, status_rank=early.status_rank, error=early.error or F("error")
    )
    early.delete()


def _media(event: InboundMessage) -> dict:
    media = {"mime_type": event.mime_type, "file_name": event.file_name, "url": event.media_url, "id": event.media_id}
    return {key: value for key, value in media.items() if value}


def _location(event: InboundMessage) -> dict:
    if event.latitude is None or event.longitude is None:
        return {}
    return {"latitude": event.latitude, "longitude": event.longitude}
