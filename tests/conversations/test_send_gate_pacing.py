"""Warm-up and pacing at the send gate: replies wait for their slot, proactive sends respect caps and quiet hours."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import httpx
import pytest
import respx
from django.utils import timezone

from chips.bans import chip_ban
from chips.lifecycle import ChipStatus
from chips.models import Chip, ChipTransition
from conversations import tasks
from conversations.models import Conversation, Message
from conversations.outbound import outbound_deliver
from conversations.sweeper import sweep
from tests.factories import ChipFactory, ConversationFactory, OutboundMessageFactory
from tests.payloads import load_fixture

pytestmark = pytest.mark.django_db

BASE = "http://evolution.test:8080"
INSTANCE = "gate-01"
SAO_PAULO = ZoneInfo("America/Sao_Paulo")


@pytest.fixture(autouse=True)
def fleet_settings(settings):
    settings.CHIP_TIME_ZONE = "America/Sao_Paulo"
    settings.CHIP_WARMUP_PLAN = "0:20,3:50,7:100,14:200"


@pytest.fixture
def gateway():
    """A fake Evolution API: presence 201, sendText 201 with a fresh key id each time (`gateway.arrivals`:
    when each sendText arrived, by the monotonic clock)."""
    counter = iter(range(1, 1000))
    arrivals: list[float] = []

    def sent(request):
        arrivals.append(time.monotonic())
        body = json.loads(request.content)
        answer = load_fixture("evolution/response.sendText__v1.json")
        answer["key"]["id"] = f"BAE5{next(counter):012d}"
        answer["key"]["remoteJid"] = f"{body['number']}@s.whatsapp.net"
        return httpx.Response(201, json=answer)

    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        router.post(f"/chat/sendPresence/{INSTANCE}", name="presence").respond(201, json={"presence": "composing"})
        router.post(f"/message/sendText/{INSTANCE}", name="text").mock(side_effect=sent)
        router.arrivals = arrivals
        yield router


@pytest.fixture
def chip():
    return ChipFactory(instance_name=INSTANCE, status=ChipStatus.ACTIVE)


@pytest.fixture
def frozen(monkeypatch):
    """Stop the clock at a given moment (São Paulo time) for the gate, the sweeper and the models."""

    def freeze(*args) -> datetime:
        moment = datetime(*args, tzinfo=SAO_PAULO)
        monkeypatch.setattr(timezone, "now", lambda: moment)
        return moment

    return freeze


@pytest.fixture
def scheduled(monkeypatch) -> list[tuple[tuple, dict]]:
    """Deliveries the task queued for later: (args, options) of each `apply_async`."""
    queued: list[tuple[tuple, dict]] = []
    monkeypatch.setattr(tasks.deliver_outbound, "apply_async", lambda args, **options: queued.append((args, options)))
    return queued


def texts_sent(gateway) -> list[str]:
    return [json.loads(call.request.content)["text"] for call in gateway["text"].calls]


def bubble(conversation, text="Olá! Como posso ajudar?", **kwargs) -> Message:
    return OutboundMessageFactory(conversation=conversation, chip=conversation.chip, text=text, **kwargs)


def proactive_sent_earlier(chip, at: datetime) -> Message:
    return OutboundMessageFactory(
        conversation__chip=chip, chip=chip, proactive=True, status="sent", status_rank=20, sent_at=at
    )


# --- pacing: every message ---------------------------------------------------------------------------


def test_a_reply_whose_slot_is_far_waits_pending_and_is_retried_at_the_slot(chip, gateway, settings, scheduled):
    settings.CHIP_SEND_INTERVAL_SECONDS = 60
    slot = timezone.now() + timedelta(seconds=30)
    Chip.objects.filter(pk=chip.pk).update(next_send_at=slot)  # another conversation just took the chip's slot
    conversation = ConversationFactory(chip=chip, last_inbound_at=timezone.now())
    reply = bubble(conversation)

    report = outbound_deliver(conversation_id=conversation.pk)

    assert (report.sent, report.failed, report.postponed_until) == (0, 0, slot)
    reply.refresh_from_db()
    assert reply.status == "pending" and reply.error.startswith("postponed: pacing")
    assert reply.updated_at == slot  # the sweeper leaves it to the retry until then
    assert texts_sent(gateway) == []

    assert tasks.deliver_outbound.run(conversation.pk) == 0
    [(args, options)] = scheduled
    assert args == (conversation.pk,) and 25 <= options["countdown"] <= 30

    Chip.objects.filter(pk=chip.pk).update(next_send_at=timezone.now())  # the slot has come
    assert outbound_deliver(conversation_id=conversation.pk).sent == 1
    reply.refresh_from_db()
    assert reply.status == "sent" and reply.error == ""


def test_a_near_slot_is_waited_for_and_the_bubbles_keep_their_order(chip, gateway, settings):
    settings.CHIP_SEND_INTERVAL_SECONDS = 0.3
    settings.CHIP_SEND_JITTER_SECONDS = 0
    conversation = ConversationFactory(chip=chip, last_inbound_at=timezone.now())
    bubbles = [bubble(conversation, text=f"parte {n}", sequence=n) for n in range(3)]

    report = outbound_deliver(conversation_id=conversation.pk)

    assert report.sent == 3 and report.postponed_until is None
    assert texts_sent(gateway) == ["parte 0", "parte 1", "parte 2"]
    # Slots are 0.3 s apart; each send reaches the gateway after its typing call, give or take a few ms.
    assert all(later - earlier >= 0.28 for earlier, later in pairwise(gateway.arrivals)), gateway.arrivals
    assert {Message.objects.get(pk=b.pk).status for b in bubbles} == {"sent"}
    assert Chip.objects.get(pk=chip.pk).next_send_at > timezone.now()


# --- daily cap and quiet hours: proactive messages only -------------------------------------------------


def test_a_proactive_message_over_the_cap_is_postponed_with_the_reason(chip, gateway, frozen, scheduled):
    now = frozen(2026, 3, 10, 15, 0)
    Chip.objects.filter(pk=chip.pk).update(daily_cap=1)
    proactive_sent_earlier(chip, now - timedelta(hours=2))
    conversation = ConversationFactory(chip=chip, last_inbound_at=now - timedelta(days=2))
    followup = bubble(conversation, text="Ainda tem interesse?", proactive=True)

    assert tasks.deliver_outbound.run(conversation.pk) == 0

    followup.refresh_from_db()
    assert followup.status == "pending"
    assert followup.error == (
        "postponed: daily cap reached: 1 of 1 proactive messages sent today; "
        "next try 2026-03-11 00:00 America/Sao_Paulo"
    )
    assert followup.updated_at == datetime(2026, 3, 11, 0, 0, tzinfo=SAO_PAULO)
    assert texts_sent(gateway) == []
    assert scheduled == []  # hours away: the sweeper takes it up then, not a task held by the broker

    # A reply on the same chip is not held by the cap.
    talking = ConversationFactory(chip=chip, last_inbound_at=now)
    bubble(talking, text="Claro, te explico.")
    assert outbound_deliver(conversation_id=talking.pk).sent == 1
    assert texts_sent(gateway) == ["Claro, te explico."]


def test_quiet_hours_postpone_proactive_messages_but_not_replies(chip, gateway, settings, frozen, monkeypatch):
    settings.CHIP_QUIET_HOURS = "21:00-08:00"
    now = frozen(2026, 3, 10, 22, 30)
    waiting = ConversationFactory(chip=chip, last_inbound_at=now - timedelta(days=1))
    followup = bubble(waiting, text="Ainda tem interesse?", proactive=True)
    talking = ConversationFactory(chip=chip, last_inbound_at=now)
    bubble(talking, text="Boa noite! Posso ajudar.")

    report = outbound_deliver(conversation_id=waiting.pk)
    assert report.sent == 0 and report.failed == 0
    assert report.postponed_until == datetime(2026, 3, 11, 8, 0, tzinfo=SAO_PAULO)
    followup.refresh_from_db()
    assert followup.status == "pending" and followup.error.startswith("postponed: quiet hours")
    assert outbound_deliver(conversation_id=talking.pk).sent == 1
    assert texts_sent(gateway) == ["Boa noite! Posso ajudar."]

    # The sweeper does not retry the follow-up all night long, but takes it up once quiet hours are over.
    redelivered: list[int] = []
    monkeypatch.setattr(tasks.deliver_outbound, "delay", redelivered.append)
    frozen(2026, 3, 11, 3, 0)
    sweep()
    assert redelivered == []
    frozen(2026, 3, 11, 8, 1)
    sweep()
    assert redelivered == [waiting.pk]
    assert outbound_deliver(conversation_id=waiting.pk).sent == 1
    assert texts_sent(gateway)[-1] == "Ainda tem interesse?"


def test_a_proactive_message_the_customer_overtook_is_dropped_and_holds_no_reply(chip, gateway, frozen):
    now = frozen(2026, 3, 10, 15, 0)
    conversation = ConversationFactory(chip=chip, last_inbound_at=now - timedelta(days=1))
    followup = bubble(conversation, text="Ainda tem interesse?", proactive=True)
    frozen(2026, 3, 10, 15, 5)
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now())  # the customer wrote
    bubble(conversation, text="Que bom que voltou!")

    report = outbound_deliver(conversation_id=conversation.pk)

    assert (report.sent, report.failed) == (1, 1)
    followup.refresh_from_db()
    assert followup.status == "failed" and "customer wrote" in followup.error
    assert texts_sent(gateway) == ["Que bom que voltou!"]


# --- lifecycle ---------------------------------------------------------------------------------------------


def test_the_first_send_of_a_ready_chip_makes_it_active(gateway):
    chip = ChipFactory(instance_name=INSTANCE, status=ChipStatus.READY)
    conversation = ConversationFactory(chip=chip, last_inbound_at=timezone.now())
    bubble(conversation, sequence=0)
    bubble(conversation, text="Qual é o seu nome?", sequence=1)

    assert outbound_deliver(conversation_id=conversation.pk).sent == 2

    assert Chip.objects.get(pk=chip.pk).status == ChipStatus.ACTIVE
    transition = ChipTransition.objects.get(chip=chip)
    assert (transition.from_status, transition.to_status, transition.triggered_by) == ("ready", "active", "outbound")
    bubble(conversation, text="Mais uma.", sequence=0)
    outbound_deliver(conversation_id=conversation.pk)
    assert ChipTransition.objects.filter(chip=chip).count() == 1


def test_a_warming_chip_keeps_warming_when_it_sends(gateway):
    chip = ChipFactory(instance_name=INSTANCE, status=ChipStatus.WARMING, warmup_started_at=timezone.now())
    conversation = ConversationFactory(chip=chip, last_inbound_at=timezone.now())
    bubble(conversation)
    assert outbound_deliver(conversation_id=conversation.pk).sent == 1
    assert Chip.objects.get(pk=chip.pk).status == ChipStatus.WARMING
    assert not ChipTransition.objects.filter(chip=chip).exists()


def test_a_ban_landing_between_two_bubbles_stops_the_rest(chip, gateway):
    conversation = ConversationFactory(chip=chip)
    first = OutboundMessageFactory(conversation=conversation, chip=chip, sequence=0, text="um")
    second = OutboundMessageFactory(conversation=conversation, chip=chip, sequence=1, text="dois")
    answer = gateway["text"].side_effect

    def sent_then_banned(request):
        # The ban webhook arrives while the first bubble is on its way.
        chip_ban(chip_id=chip.pk, reason="WhatsApp banned the number", triggered_by="webhook")
        return answer(request)

    gateway["text"].side_effect = sent_then_banned
    outbound_deliver(conversation_id=conversation.pk)

    assert gateway["text"].call_count == 1
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status, second.error) == ("sent", "failed", "chip is banned")
