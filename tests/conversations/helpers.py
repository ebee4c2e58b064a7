"""Driving the pipeline step by step, in-process."""

from __future__ import annotations

from chips.selectors import routed_chip
from conversations.inbound import webhook_events_record
from conversations.models import Message
from conversations.routing import inbound_attach
from integrations.providers.evolution import EvolutionProvider
from tests.payloads import evolution_text


def receive(chip, *, message_id: str, text: str = "Oi", phone_digits: str = "5511900000001") -> Message | None:
    """What the webhook view does for an Evolution text message; returns the new row, if any."""
    body = evolution_text(instance=chip.instance_name, message_id=message_id, text=text, phone_digits=phone_digits)
    return record_body(chip, body)


def record_body(chip, body: dict) -> Message | None:
    """Parse and record an Evolution webhook body as the view does; the new inbound row, if any."""
    events = EvolutionProvider(routed_chip(chip).gateway).parse(body)
    outcome = webhook_events_record(chip=routed_chip(chip), events=events)
    return Message.objects.get(pk=outcome.queued[0]) if outcome.queued else None


def receive_and_attach(chip, **kwargs) -> int | None:
    message = receive(chip, **kwargs)
    return inbound_attach(message_id=message.pk) if message else None


def run_threads(threads, *, timeout: float) -> None:
    """Start every thread, wait for all of them (bounded), and fail if any is still running."""
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in threads), "a thread did not finish in time"
