"""Celery tasks: thin, id-taking wrappers over the pipeline. Names are stable (beat rows use them)."""

from __future__ import annotations

import random
from datetime import datetime

from celery import shared_task
from django.utils import timezone

from conversations.attach_many import inbound_attach_many
from conversations.followups import followups_send_due
from conversations.media import MEDIA_KINDS, TransientMediaError, media_fetch
from conversations.models import Message
from conversations.outbound import TransientSendError, outbound_deliver, outbound_stalled
from conversations.routing import inbound_attach
from conversations.sweeper import sweep as sweep_pipeline
from conversations.turns import TurnOutcome, turn_run, turn_wait, turn_waits
from conversations.understanding import (
    TransientUnderstandingError,
    media_understand,
    media_understanding_abandon,
)


@shared_task(name="conversations.handle_inbound")
def handle_inbound(message_ids: list[int]) -> int:
    """Attach a relay batch to conversations, then start one turn per conversation to answer."""
    conversation_ids = inbound_attach_many(message_ids)
    media = Message.objects.filter(pk__in=message_ids, kind__in=MEDIA_KINDS).exclude(media__has_key="path")
    for message_id in media.values_list("pk", flat=True):
        fetch_media.delay(message_id)
    # A turn due later (the customer may still be typing) is queued for then, not run now to learn it.
    waits = turn_waits(conversation_ids=conversation_ids)
    # One producer and one Redis round trip for the whole batch (a pipeline; other brokers publish one
    # by one): queueing a task each on its own was half of this task's CPU in a burst of new leads.
    with run_turn.app.producer_or_acquire() as producer, producer.batch():
        for conversation_id in sorted(conversation_ids):
            wait = waits.get(conversation_id, 0.0)
            countdown = wait + random.uniform(0, 0.3) if wait else None
            run_turn.apply_async((conversation_id,), countdown=countdown, producer=producer)
    return len(conversation_ids)


@shared_task(name="conversations.attach_again")
def attach_again(message_id: int) -> int | None:
    """A message whose attachment had to wait (a phone echo while our send was settling)."""
    conversation_id = inbound_attach(message_id=message_id)
    if conversation_id is not None:
        run_turn.delay(conversation_id)
    return conversation_id


@shared_task(bind=True, name="conversations.fetch_media", max_retries=6)
def fetch_media(self, message_id: int) -> str | None:
    try:
        path = media_fetch(message_id=message_id)
    except TransientMediaError as exc:
        raise self.retry(exc=exc, countdown=random.uniform(5, 10) * 2**self.request.retries) from exc
    if path:
        # The customer's turn waits until the file is understood (or given up on): read it now.
        understand_media.delay(message_id)
    return path


@shared_task(bind=True, name="conversations.understand_media", max_retries=3)
def understand_media(self, message_id: int) -> int:
    """Transcribe, describe or read a stored media file; returns the length of what was read.

    Never the text itself: task results are logged, message contents must not be.
    """
    try:
        return len(media_understand(message_id=message_id))
    except TransientUnderstandingError as exc:
        if self.request.retries >= self.max_retries:
            # The turn is waiting for this file: let it go on, telling the agent it could not be read.
            media_understanding_abandon(message_id=message_id, error=str(exc))
            return 0
        # Short backoff (about 3, 6, 12 s): the turn holds at most a few dozen seconds for media.
        raise self.retry(exc=exc, countdown=random.uniform(2, 4) * 2**self.request.retries) from exc


@shared_task(bind=True, name="conversations.run_turn", max_retries=100)
def run_turn(self, conversation_id: int) -> str:
    outcome = turn_run(conversation_id=conversation_id)
    if outcome is TurnOutcome.WAITING:
        # The customer may still be typing (or their audio is being read): look again when due.
        wait = turn_wait(conversation_id=conversation_id)
        raise self.retry(countdown=max(0.2, wait) + random.uniform(0, 0.3))
    if outcome is TurnOutcome.BUSY:
        # Another turn of this conversation is running; it answers what it sees, we catch the rest.
        raise self.retry(countdown=1 + random.random())
    if outcome is TurnOutcome.ANSWERED:
        deliver_outbound.delay(conversation_id)
    return outcome.value


# A postponed delivery waits in the broker at most this long. Brokers hold tasks for hours badly (Redis
# hands an ETA task out again after its visibility timeout): a longer wait (quiet hours, a full daily
# cap) is left to the sweeper, which takes a pending message up once its postponement has passed.
POSTPONED_COUNTDOWN_LIMIT = 600


@shared_task(bind=True, name="conversations.deliver_outbound", max_retries=8)
def deliver_outbound(self, conversation_id: int) -> int:
    try:
        report = outbound_deliver(conversation_id=conversation_id)
    except TransientSendError as exc:
        if self.request.retries >= self.max_retries:
            # Still pending: the sweeper keeps trying every few seconds; an operator should know.
            outbound_stalled(conversation_id=conversation_id, error=str(exc))
            return 0
        # Exponential backoff with jitter: 2, 4, 8... seconds, capped at 5 minutes.
        ceiling = min(300, 2 ** (self.request.retries + 1))
        raise self.retry(exc=exc, countdown=random.uniform(ceiling / 2, ceiling)) from exc
    if report.postponed_until is not None:
        deliver_later(conversation_id, report.postponed_until)
    return report.sent


def deliver_later(conversation_id: int, when: datetime) -> None:
    """Deliver again when a postponed message may go.

    A fresh task rather than a retry: waiting for a pacing slot or the end of quiet hours is not a
    failure, and must not use up the retry budget kept for gateway errors.
    """
    countdown = (when - timezone.now()).total_seconds()
    if countdown <= POSTPONED_COUNTDOWN_LIMIT:
        deliver_outbound.apply_async((conversation_id,), countdown=max(0.0, countdown))


@shared_task(name="conversations.sweep")
def sweep() -> dict:
    report = sweep_pipeline()
    return report.__dict__


@shared_task(name="conversations.send_followups")
def send_followups() -> int:
    return followups_send_due()
