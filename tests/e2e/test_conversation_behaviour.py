"""Bursts, a person answering from the phone and STOP, through signed webhooks and a real worker."""

import json
import time

import pytest

from conversations.models import AgentRun, Conversation, Lead, Message
from conversations.routing import default_profile
from tests.e2e.conftest import wait_until
from tests.factories import ChipFactory
from tests.payloads import evolution_text

URL = "/webhooks/evolution/"
pytestmark = pytest.mark.django_db(transaction=True)


def post(client, chip, body) -> int:
    response = client.post(
        URL, data=json.dumps(body), content_type="application/json", HTTP_X_WEBHOOK_TOKEN=chip.gateway.webhook_secret
    )
    return response.status_code


def customer_says(client, chip, message_id: str, text: str) -> None:
    assert post(client, chip, evolution_text(instance=chip.instance_name, message_id=message_id, text=text)) == 202


def all_answered() -> bool:
    return not Message.objects.filter(direction="in", processed_at__isnull=True).exists() and not (
        Message.objects.filter(direction="out", origin="agent", status__in=["pending", "sending"]).exists()
    )


@pytest.fixture
def chip(fake_evolution):
    return ChipFactory(instance_name="e2e-b1", gateway__base_url=fake_evolution.url)


def test_a_burst_of_messages_gets_one_answer(client, pipeline, chip, fake_evolution):
    profile = default_profile()
    profile.debounce_seconds, profile.debounce_max_wait_seconds = 2, 20
    profile.save()

    for index, text in enumerate(["Oi", "sou o João", "da Acme", "quero automatizar o atendimento"]):
        customer_says(client, chip, f"BURST{index}", text)
        time.sleep(0.3)  # typing quickly, well within the debounce

    assert wait_until(lambda: AgentRun.objects.exists() and all_answered(), timeout=30)
    time.sleep(2.5)  # a second turn, if there were one, would have run by now
    assert AgentRun.objects.count() == 1
    lead = Lead.objects.get()
    assert (lead.fields.get("name"), lead.fields.get("company")) == ("João", "Acme")
    assert len(fake_evolution.texts()) == Message.objects.filter(direction="out", origin="agent").count()


def test_a_person_on_the_phone_silences_the_bot(client, pipeline, chip, fake_evolution):
    customer_says(client, chip, "H1", "Oi, tudo bem?")
    assert wait_until(lambda: AgentRun.objects.exists() and all_answered())
    texts_before = len(fake_evolution.texts())

    typed = evolution_text(instance=chip.instance_name, message_id="PHONE-TYPED-1", text="Oi! Aqui é o Carlos")
    typed["data"]["key"]["fromMe"] = True
    assert post(client, chip, typed) == 200
    assert wait_until(lambda: Conversation.objects.filter(owner="human").exists())

    customer_says(client, chip, "H2", "Oi Carlos, quero um orçamento")
    assert wait_until(all_answered)
    time.sleep(1.0)
    assert AgentRun.objects.count() == 1
    assert len(fake_evolution.texts()) == texts_before


def test_stop_is_confirmed_once_and_then_nothing(client, pipeline, chip, fake_evolution):
    customer_says(client, chip, "S1", "Oi")
    assert wait_until(lambda: AgentRun.objects.exists() and all_answered())

    customer_says(client, chip, "S2", "SAIR")
    assert wait_until(lambda: Lead.objects.filter(opted_out_at__isnull=False).exists() and all_answered())
    confirmation = fake_evolution.texts()[-1].body["text"]
    assert "não vai mais receber" in confirmation

    count = len(fake_evolution.texts())
    customer_says(client, chip, "S3", "oi de novo")
    assert wait_until(all_answered)
    time.sleep(1.0)
    assert len(fake_evolution.texts()) == count
