"""The inbound pipeline and the outbox, step by step, with the gateway faked at the HTTP boundary."""

import json
from datetime import timedelta

import httpx
import pytest
import respx
from django.utils import timezone

from chips.models import ChipAlert
from conversations.models import AgentRun, Conversation, Message
from conversations.outbound import TransientSendError, outbound_deliver
from conversations.relay import relay_once
from conversations.sweeper import sweep
from conversations.turns import TurnOutcome, turn_run
from tests.conversations.helpers import receive, receive_and_attach
from tests.factories import ChipFactory
from tests.payloads import load_fixture

pytestmark = pytest.mark.django_db
BASE = "http://evolution.test:8080"


@pytest.fixture
def chip():
    return ChipFactory(instance_name="acme-01")


@pytest.fixture
def gateway():
    """A fake Evolution API: presence 201, sendText 201 with a fresh key id each time."""
    counter = iter(range(1, 1000))

    def sent(request):
        body = json.loads(request.content)
        answer = load_fixture("evolution/response.sendText__v1.json")
        answer["key"]["id"] = f"BAE5{next(counter):012d}"
        answer["key"]["remoteJid"] = f"{body['number']}@s.whatsapp.net"
        return httpx.Response(201, json=answer)

    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        router.post("/chat/sendPresence/acme-01", name="presence").respond(201, json={"presence": "composing"})
        router.post("/chat/markMessageAsRead/acme-01", name="read").respond(
            201, json={"message": "Read messages", "read": "success"}
        )
        router.post("/message/sendText/acme-01", name="text").mock(side_effect=sent)
        yield router


def outbound(conversation_id):
    return list(Message.objects.filter(conversation_id=conversation_id, direction="out").order_by("sequence"))


def test_a_turn_answers_pending_messages_once(chip):
    conversation_id = receive_and_attach(chip, message_id="M1", text="Oi, tudo bem?")
    assert turn_run(conversation_id=conversation_id) is TurnOutcome.ANSWERED
    bubbles = outbound(conversation_id)
    assert bubbles and all(b.status == "pending" for b in bubbles)
    assert Message.objects.get(provider_message_id="M1").status == "processed"
    assert AgentRun.objects.count() == 1

    assert turn_run(conversation_id=conversation_id) is TurnOutcome.NOTHING_TO_DO
    assert len(outbound(conversation_id)) == len(bubbles)
    assert AgentRun.objects.count() == 1


def test_the_playbook_records_answers_on_the_lead(chip):
    conversation_id = receive_and_attach(chip, message_id="M1", text="Olá")
    turn_run(conversation_id=conversation_id)
    receive_and_attach(chip, message_id="M2", text="Meu nome é Ana Paula")
    turn_run(conversation_id=conversation_id)
    lead = Conversation.objects.get(pk=conversation_id).lead
    assert lead.name == "Ana Paula"
    assert lead.fields["name"] == "Ana Paula"
    assert lead.stage == "qualifying"


def test_a_turn_waits_while_another_holds_the_lease(chip):
    conversation_id = receive_and_attach(chip, message_id="M1")
    Conversation.objects.filter(pk=conversation_id).update(
        turn_lease_until=timezone.now() + timedelta(seconds=60), turn_lease_token="other"
    )
    assert turn_run(conversation_id=conversation_id) is TurnOutcome.BUSY
    assert outbound(conversation_id) == []

    # The holder died: once its lease expires the turn runs.
    Conversation.objects.filter(pk=conversation_id).update(turn_lease_until=timezone.now() - timedelta(seconds=1))
    assert turn_run(conversation_id=conversation_id) is TurnOutcome.ANSWERED


def test_a_conversation_owned_by_a_human_gets_no_turn(chip):
    conversation_id = receive_and_attach(chip, message_id="M1")
    Conversation.objects.filter(pk=conversation_id).update(owner="human")
    from conversations.routing import inbound_attach

    message = receive(chip, message_id="M2")
    assert inbound_attach(message_id=message.pk) is None
    assert Message.objects.get(pk=message.pk).status == "processed"


def test_delivery_shows_typing_then_sends_each_bubble_in_order(chip, gateway):
    conversation_id = receive_and_attach(chip, message_id="M1", text="Oi")
    turn_run(conversation_id=conversation_id)
    bubbles = outbound(conversation_id)

    report = outbound_deliver(conversation_id=conversation_id)

    assert report.sent == len(bubbles)
    routes = [call.request.url.path.split("/")[2] for call in gateway.calls]
    # Blue ticks on the customer's message first, then typing before each bubble.
    assert routes == ["markMessageAsRead"] + ["sendPresence", "sendText"] * len(bubbles)
    read = json.loads(gateway["read"].calls[0].request.content)
    assert [key["id"] for key in read["readMessages"]] == ["M1"]
    assert Message.objects.get(provider_message_id="M1").read_receipt_at is not None
    texts = [json.loads(call.request.content) for call in gateway.calls if "sendText" in call.request.url.path]
    assert [t["text"] for t in texts] == [b.text for b in bubbles]
    assert {t["number"] for t in texts} == {"5511900000001"}
    assert all(call.request.headers["apikey"] == "global-api-key" for call in gateway.calls)
    for bubble in outbound(conversation_id):
        assert bubble.status == "sent"
        assert bubble.provider_message_id.startswith("BAE5")


def test_delivering_again_sends_nothing_twice(chip, gateway):
    conversation_id = receive_and_attach(chip, message_id="M1")
    turn_run(conversation_id=conversation_id)
    outbound_deliver(conversation_id=conversation_id)
    sent_before = gateway["text"].call_count
    assert outbound_deliver(conversation_id=conversation_id).sent == 0
    assert gateway["text"].call_count == sent_before


def test_transient_failure_puts_the_message_back_for_a_retry(chip, gateway):
    gateway["text"].side_effect = None
    gateway["text"].respond(503, json={"status": 503})
    conversation_id = receive_and_attach(chip, message_id="M1")
    turn_run(conversation_id=conversation_id)

    with pytest.raises(TransientSendError):
        outbound_deliver(conversation_id=conversation_id)

    first = outbound(conversation_id)[0]
    assert first.status == "pending"
    assert gateway["text"].call_count == 1  # later bubbles wait for the first: order is kept


def test_permanent_failure_marks_failed_and_raises_an_alert(chip, gateway):
    gateway["text"].side_effect = None
    gateway["text"].respond(
        400,
        json={
            "status": 400,
            "error": "Bad Request",
            "response": {"message": [{"exists": False, "number": "5511900000001"}]},
        },
    )
    conversation_id = receive_and_attach(chip, message_id="M1")
    turn_run(conversation_id=conversation_id)

    report = outbound_deliver(conversation_id=conversation_id)

    assert report.failed == len(outbound(conversation_id))
    first = outbound(conversation_id)[0]
    assert first.status == "failed"
    assert "400" in first.error and "exists" in first.error
    assert ChipAlert.objects.filter(chip=chip, kind="send_failed", resolved_at__isnull=True).count() == 1


def test_timeout_after_sending_is_unknown_and_never_resent(chip, gateway):
    gateway["text"].side_effect = httpx.ReadTimeout("slow")
    conversation_id = receive_and_attach(chip, message_id="M1")
    turn_run(conversation_id=conversation_id)

    outbound_deliver(conversation_id=conversation_id)
    calls = gateway["text"].call_count
    outbound_deliver(conversation_id=conversation_id)

    assert outbound(conversation_id)[0].status == "unknown"
    assert gateway["text"].call_count == calls
    assert ChipAlert.objects.filter(kind="send_outcome_unknown").exists()


def test_echo_arriving_before_the_send_returns_is_folded_in(chip, gateway):
    from conversations.outbound import _record_sent
    from tests.factories import OutboundMessageFactory

    message = OutboundMessageFactory(chip=chip, conversation__chip=chip, status="sending", status_rank=10)
    Message.objects.create(
        chip=chip,
        direction="out",
        origin="phone",
        provider="evolution",
        provider_message_id="ECHO1",
        status="delivered",
        status_rank=30,
    )
    _record_sent(message, "ECHO1")
    message.refresh_from_db()
    assert (message.provider_message_id, message.status) == ("ECHO1", "delivered")
    assert Message.objects.filter(provider_message_id="ECHO1").count() == 1


def test_opted_out_lead_gets_nothing(chip, gateway):
    conversation_id = receive_and_attach(chip, message_id="M1")
    turn_run(conversation_id=conversation_id)
    Conversation.objects.get(pk=conversation_id).lead.__class__.objects.update(opted_out_at=timezone.now())

    outbound_deliver(conversation_id=conversation_id)

    assert gateway["text"].call_count == 0
    assert {b.status for b in outbound(conversation_id)} == {"failed"}


def test_relay_hands_new_messages_over_in_one_publish(chip, monkeypatch):
    from conversations import tasks

    published = []

    monkeypatch.setattr(tasks.handle_inbound, "apply_async", lambda args, **kw: published.append(args[0]))
    ids = [receive(chip, message_id=f"R{i}").pk for i in range(3)]

    assert relay_once() == 3
    assert published == [ids]
    assert relay_once() == 0  # handed over once
    assert all(m.handed_at for m in Message.objects.filter(pk__in=ids))


def test_failed_publish_leaves_messages_for_the_next_pass(chip, monkeypatch):
    from conversations import tasks

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.handle_inbound, "apply_async", broker_down)
    message = receive(chip, message_id="R1")
    with pytest.raises(ConnectionError):
        relay_once()
    message.refresh_from_db()
    assert message.handed_at is None


def test_sweeper_rehands_stale_messages_and_settles_stuck_sends(chip, settings, monkeypatch):
    from conversations import tasks

    delivered = []
    monkeypatch.setattr(tasks.deliver_outbound, "delay", lambda cid: delivered.append(cid))
    long_ago = timezone.now() - timedelta(hours=1)
    stale = receive(chip, message_id="S1")
    Message.objects.filter(pk=stale.pk).update(handed_at=long_ago)
    fresh = receive(chip, message_id="S2")
    Message.objects.filter(pk=fresh.pk).update(handed_at=timezone.now())
    conversation_id = receive_and_attach(chip, message_id="S3")
    turn_run(conversation_id=conversation_id)
    bubbles = outbound(conversation_id)
    Message.objects.filter(pk=bubbles[0].pk).update(status="sending", updated_at=long_ago)
    Message.objects.filter(pk__in=[b.pk for b in bubbles[1:]]).update(updated_at=long_ago)

    report = sweep()

    assert Message.objects.get(pk=stale.pk).handed_at is None
    assert Message.objects.get(pk=fresh.pk).handed_at is not None
    assert Message.objects.get(pk=bubbles[0].pk).status == "unknown"
    assert report.unknown == 1
    assert delivered == ([conversation_id] if len(bubbles) > 1 else [])


def test_a_timed_out_send_is_settled_by_the_gateways_echo(chip, gateway):
    from chips.selectors import routed_chip
    from conversations.inbound import webhook_events_record
    from integrations.providers.base import Contact, InboundMessage

    gateway["text"].side_effect = httpx.ReadTimeout("slow")
    conversation_id = receive_and_attach(chip, message_id="M1")
    turn_run(conversation_id=conversation_id)
    outbound_deliver(conversation_id=conversation_id)
    waiting = outbound(conversation_id)[0]
    assert waiting.status == "unknown"

    echo = InboundMessage(
        provider_message_id="BAE5ECHO0001",
        contact=Contact(phone="+5511900000001"),
        from_me=True,
        sent_by_api=True,
        kind="text",
        text=waiting.text,
    )
    outcome = webhook_events_record(chip=routed_chip(chip), events=[echo])

    waiting.refresh_from_db()
    assert (waiting.status, waiting.provider_message_id) == ("sent", "BAE5ECHO0001")
    assert outcome.recorded == 1
    assert Message.objects.filter(provider_message_id="BAE5ECHO0001").count() == 1
    # The same echo delivered again is a duplicate, not a second message.
    again = webhook_events_record(chip=routed_chip(chip), events=[echo])
    assert again.duplicates == 1


def test_an_echo_that_outruns_the_send_answer_is_the_same_message(chip):
    from chips.selectors import routed_chip
    from conversations.inbound import message_status_apply, webhook_events_record
    from conversations.outbound import _record_sent
    from integrations.providers.base import Contact, InboundMessage
    from tests.factories import OutboundMessageFactory

    in_flight = OutboundMessageFactory(
        chip=chip,
        conversation__chip=chip,
        conversation__lead__phone="+5511900000001",
        status="sending",
        status_rank=10,
        text="Olá!",
    )
    echo = InboundMessage(
        provider_message_id="3EB0AA",
        contact=Contact(phone="+5511900000001"),
        from_me=True,
        sent_by_api=True,
        kind="text",
        text="Olá!",
    )
    webhook_events_record(chip=routed_chip(chip), events=[echo])
    message_status_apply(chip_id=chip.pk, provider_message_id="3EB0AA", status="read")

    _record_sent(in_flight, "3EB0AA")  # the gateway's answer to our call, last of all

    in_flight.refresh_from_db()
    assert (in_flight.provider_message_id, in_flight.status) == ("3EB0AA", "read")
    assert Message.objects.filter(provider_message_id="3EB0AA").count() == 1
    assert not Message.objects.filter(origin="phone").exists()  # no phantom "human typed this" row


def test_exhausted_retries_alert_and_leave_the_message_for_the_sweeper(chip, gateway, monkeypatch):
    from conversations import tasks

    gateway["text"].side_effect = None
    gateway["text"].respond(503, json={"status": 503})
    conversation_id = receive_and_attach(chip, message_id="M1")
    turn_run(conversation_id=conversation_id)
    tasks.deliver_outbound.push_request(retries=tasks.deliver_outbound.max_retries)
    try:
        assert tasks.deliver_outbound.run(conversation_id) == 0
    finally:
        tasks.deliver_outbound.pop_request()
    assert outbound(conversation_id)[0].status == "pending"
    alert = ChipAlert.objects.get(chip=chip, kind="send_stalled")
    assert alert.severity == "critical" and "503" in alert.message


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_turns_of_one_conversation_never_overlap(monkeypatch):
    import threading
    import time

    from django.db import connection

    from conversations import turns

    chip = ChipFactory(instance_name="acme-01")
    conversation_id = receive_and_attach(chip, message_id="M1")
    real_decide = turns.decide
    inside, peak, lock = [0], [0], threading.Lock()

    def slow_decide(context, *, llm):
        with lock:
            inside[0] += 1
            peak[0] = max(peak[0], inside[0])
        time.sleep(0.3)  # long enough for every other caller to try its luck
        with lock:
            inside[0] -= 1
        return real_decide(context, llm=llm)

    monkeypatch.setattr(turns, "decide", slow_decide)
    barrier = threading.Barrier(4)
    outcomes = []

    def run():
        try:
            barrier.wait()
            outcomes.append(turns.turn_run(conversation_id=conversation_id))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert peak[0] == 1
    assert sorted(o.value for o in outcomes) == ["answered", "busy", "busy", "busy"]
    assert AgentRun.objects.count() == 1
