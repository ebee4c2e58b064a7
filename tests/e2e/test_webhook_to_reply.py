"""A signed Evolution webhook in, exactly one turn's bubbles out at the gateway, through a real worker."""

import json
import threading
import time

import httpx
import pytest

from conversations.models import AgentRun, Message
from tests.e2e.conftest import wait_until
from tests.factories import ChipFactory
from tests.payloads import evolution_text

URL = "/webhooks/evolution/"


def settled():
    """All customer messages answered and every bubble of the answer sent."""
    pending_in = Message.objects.filter(direction="in", processed_at__isnull=True).exists()
    unsent = Message.objects.filter(direction="out", origin="agent").exclude(status="sent").exists()
    return AgentRun.objects.exists() and not pending_in and not unsent


def assert_one_turn_reached_the_gateway(fake):
    assert wait_until(settled), "the pipeline did not answer"
    time.sleep(1.0)  # anything doubled would arrive by now
    [run] = AgentRun.objects.all()
    bubbles = list(Message.objects.filter(agent_run=run).order_by("sequence"))
    texts = fake.texts()
    assert len(texts) == len(bubbles) >= 1
    assert [t.body["text"] for t in texts] == [b.text for b in bubbles]
    assert all(t.body["number"] == "5511900000001" for t in texts)
    assert len(fake.presences()) == len(bubbles)
    assert {b.provider_message_id[:4] for b in bubbles} == {"BAE5"}


@pytest.mark.django_db(transaction=True)
def test_signed_message_gets_exactly_one_turn(client, pipeline, fake_evolution):
    chip = ChipFactory(instance_name="e2e-01", gateway__base_url=fake_evolution.url)
    body = evolution_text(instance="e2e-01", message_id="E2E0001", text="Olá, quero saber mais")

    response = client.post(
        URL, data=json.dumps(body), content_type="application/json", HTTP_X_WEBHOOK_TOKEN=chip.gateway.webhook_secret
    )

    assert response.status_code == 202
    assert_one_turn_reached_the_gateway(fake_evolution)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_five_concurrent_deliveries_are_one_message_and_one_turn(live_server, pipeline, fake_evolution):
    chip = ChipFactory(instance_name="e2e-02", gateway__base_url=fake_evolution.url)
    raw = json.dumps(evolution_text(instance="e2e-02", message_id="E2E0002", text="Oi!"))
    headers = {"Content-Type": "application/json", "X-Webhook-Token": chip.gateway.webhook_secret}
    barrier = threading.Barrier(5)
    statuses = []

    def deliver():
        barrier.wait()
        statuses.append(httpx.post(live_server.url + URL, content=raw, headers=headers, timeout=30).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [200, 200, 200, 200, 202]
    assert Message.objects.filter(direction="in").count() == 1
    assert_one_turn_reached_the_gateway(fake_evolution)
