"""A relay batch queues each conversation's turn for when it is due, computed for the batch at once."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import count

import pytest
from django.utils import timezone

from conversations import tasks
from conversations.models import AgentProfile, Message
from conversations.statuses import Direction, MessageOrigin, MessageStatus
from conversations.turns import turn_wait, turn_waits
from tests.factories import ChipFactory, ConversationFactory

pytestmark = pytest.mark.django_db
_names = count(1)


def conversation_with_debounce(chip, *, seconds: int, max_wait: int):
    profile = AgentProfile.objects.get(is_default=True)
    profile.pk, profile.is_default = None, False
    profile.name = f"debounce {seconds}/{max_wait} #{next(_names)}"
    profile.debounce_seconds, profile.debounce_max_wait_seconds = seconds, max_wait
    profile.save()
    return ConversationFactory(chip=chip, profile=profile)


def unanswered(conversation, *, seconds_ago: float) -> Message:
    message = Message.objects.create(
        chip=conversation.chip,
        conversation=conversation,
        direction=Direction.IN,
        origin=MessageOrigin.CONTACT,
        provider="evolution",
        provider_message_id=f"TS-{conversation.pk}-{seconds_ago}",
        status=MessageStatus.RECEIVED,
        text="Oi",
    )
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(seconds=seconds_ago))
    return message


@pytest.fixture
def three_conversations():
    chip = ChipFactory()
    typing = conversation_with_debounce(chip, seconds=5, max_wait=20)
    unanswered(typing, seconds_ago=3)
    unanswered(typing, seconds_ago=1)
    due = conversation_with_debounce(chip, seconds=0, max_wait=20)
    unanswered(due, seconds_ago=1)
    answered = conversation_with_debounce(chip, seconds=5, max_wait=20)
    return typing, due, answered


def test_waits_for_a_batch_are_each_conversations_own_wait(three_conversations):
    typing, due, answered = three_conversations
    now = timezone.now()

    waits = turn_waits(conversation_ids=[typing.pk, due.pk, answered.pk], now=now)

    # Five seconds after the latest message (one second old), well within the maximum wait.
    assert waits[typing.pk] == pytest.approx(4.0, abs=0.05)
    assert waits[typing.pk] == pytest.approx(turn_wait(conversation_id=typing.pk, now=now))
    assert waits[due.pk] == 0.0
    assert answered.pk not in waits and turn_wait(conversation_id=answered.pk, now=now) == 0.0


def test_the_maximum_wait_bounds_a_long_burst():
    conversation = conversation_with_debounce(ChipFactory(), seconds=5, max_wait=6)
    unanswered(conversation, seconds_ago=5)
    unanswered(conversation, seconds_ago=0.5)

    wait = turn_waits(conversation_ids=[conversation.pk])[conversation.pk]

    assert wait == pytest.approx(1.0, abs=0.1)  # six seconds after the first message, not five after the last


def test_a_relay_batch_queues_each_turn_at_the_broker_for_when_it_is_due(three_conversations, monkeypatch):
    """Read back from the broker itself: the batch's tasks are all published (a pipeline must be flushed)."""
    typing, due, _answered = three_conversations
    monkeypatch.setattr(tasks, "inbound_attach_many", lambda ids: {typing.pk, due.pk})
    app = tasks.run_turn.app
    app.control.purge()  # tasks left by other tests
    queued_at = timezone.now()

    tasks.handle_inbound([1, 2, 3])

    published = _drain_default_queue(app)
    assert sorted(published) == sorted([typing.pk, due.pk])
    assert published[due.pk] is None  # due now: no countdown
    wait = (published[typing.pk] - queued_at).total_seconds()
    assert 3.8 <= wait <= 4.6  # its wait, plus a little jitter


def _drain_default_queue(app) -> dict[int, datetime | None]:
    """run_turn tasks waiting in the default queue: conversation id -> when it is due (None: now)."""
    published = {}
    with app.connection_for_read() as connection:
        queue = connection.SimpleQueue(app.conf.task_default_queue)
        try:
            while True:
                try:
                    message = queue.get(timeout=1)
                except queue.Empty:
                    return published
                message.ack()
                assert message.headers["task"] == tasks.run_turn.name
                (conversation_id,), _kwargs, _embed = message.decode()
                eta = message.headers.get("eta")
                published[conversation_id] = datetime.fromisoformat(eta) if eta else None
        finally:
            queue.close()
