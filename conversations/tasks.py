"""Celery tasks: thin, id-taking wrappers over the pipeline. Names are stable (beat rows use them)."""

from __future__ import annotations

import random

from celery import shared_task

from conversations.media import MEDIA_KINDS, TransientMediaError, media_fetch
from conversations.models import Message
from conversations.outbound import TransientSendError, outbound_deliver, outbound_stalled
from conversations.routing import inbound_attach
from conversations.sweeper import sweep as sweep_pipeline
from conversations.turns import TurnOutcome, turn_run, turn_wait


@shared_task(name="conversations.handle_inbound")
def handle_inbound(message_ids: list[int]) -> int:
    """Attach a relay batch to conversations, then start one turn per conversation to answer."""
    conversation_ids = {inbound_attach(message_id=message_id) for message_id in message_ids}
    conversation_ids.discard(None)
    media = Message.objects.filter(pk__in=message_ids, kind__in=MEDIA_KINDS).exclude(media__has_key="path")
    for message_id in media.values_list("pk", flat=True):
        fetch_media.delay(message_id)
    for conversation_id in sorted(conversation_ids):
        run_turn.delay(conversation_id)
    return len(conversation_ids)


@shared_task(bind=True, name="conversations.fetch_media", max_retries=6)
def fetch_media(self, message_id: int) -> str | None:
    try:
        return media_fetch(message_id=message_id)
    except TransientMediaError as exc:
        raise self.retry(exc=exc, countdown=random.uniform(5, 10) * 2**self.request.retries) from exc


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


@shared_task(bind=True, name="conversations.deliver_outbound", max_retries=8)
def deliver_outbound(self, conversation_id: int) -> int:
    try:
        return outbound_deliver(conversation_id=conversation_id).sent
    except TransientSendError as exc:
        if self.request.retries >= self.max_retries:
            # Still pending: the sweeper keeps trying every few seconds; an operator should know.
            outbound_stalled(conversation_id=conversation_id, error=str(exc))
            return 0
        # Exponential backoff with jitter: 2, 4, 8... seconds, capped at 5 minutes.
        ceiling = min(300, 2 ** (self.request.retries + 1))
        raise self.retry(exc=exc, countdown=random.uniform(ceiling / 2, ceiling)) from exc


@shared_task(name="conversations.sweep")
def sweep() -> dict:
    report = sweep_pipeline()
    return report.__dict__
