"""Conversation behaviour around the agent: bursts, human takeover from the phone, opt-out, follow-ups."""

import json
from datetime import timedelta
from uuid import uuid4

import httpx
import pytest
import respx
from django.utils import timezone

from agent.decision import FOLLOWUP, HANDOFF, OPT_OUT, QUOTE, Decision
from chips.models import ChipAlert
from conversations import tasks
from conversations.models import Conversation, FollowUp, Lead, Message
from conversations.outbound import outbound_deliver
from conversations.routing import inbound_attach
from conversations.sweeper import sweep
from conversations.turns import TurnOutcome, decision_apply, turn_run, turn_wait
from tests.conversations.helpers import receive, receive_and_attach, record_body
from tests.factories import ChipFactory, OutboundMessageFactory
from tests.payloads import evolution_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def chip():
    return ChipFactory(instance_name="acme-01")


def from_the_phone(chip, *, message_id: str, text: str, phone_digits: str = "5511900000001"):
    """Our own number's message as Evolution reports it: typed on the phone (or an echo of our send)."""
    body = evolution_text(instance=chip.instance_name, message_id=message_id, text=text, phone_digits=phone_digits)
    body["data"]["key"]["fromMe"] = True
    record_body(chip, body)
    return Message.objects.get(provider_message_id=message_id)


def with_debounce(conversation_id: int, *, seconds: int, max_wait: int) -> None:
    profile = Conversation.objects.get(pk=conversation_id).profile
    profile.debounce_seconds, profile.debounce_max_wait_seconds = seconds, max_wait
    profile.save()


def age(message_ids, seconds: float) -> None:
    Message.objects.filter(pk__in=message_ids).update(created_at=timezone.now() - timedelta(seconds=seconds))


# --- bursts -----------------------------------------------------------------------------------


def test_a_burst_is_answered_once_after_the_customer_pauses(chip):
    first = receive(chip, message_id="B1", text="Oi")
    conversation_id = inbound_attach(message_id=first.pk)
    with_debounce(conversation_id, seconds=3, max_wait=20)
    second = receive(chip, message_id="B2", text="sou o João")
    inbound_attach(message_id=second.pk)

    assert 0 < turn_wait(conversation_id=conversation_id) <= 3
    assert turn_run(conversation_id=conversation_id) is TurnOutcome.WAITING
    assert not Message.objects.filter(direction="out").exists()

    age([first.pk, second.pk], 4)  # the customer went quiet
    assert turn_wait(conversation_id=conversation_id) == 0
    assert turn_run(conversation_id=conversation_id) is TurnOutcome.ANSWERED
    assert set(Message.objects.filter(direction="in").values_list("status", flat=True)) == {"processed"}
    assert Message.objects.filter(direction="out").values("agent_run").distinct().count() == 1


def test_a_chatty_customer_is_answered_by_the_maximum_wait(chip):
    first = receive(chip, message_id="C1", text="Oi")
    conversation_id = inbound_attach(message_id=first.pk)
    with_debounce(conversation_id, seconds=5, max_wait=10)
    age([first.pk], 11)  # the first message waited past the maximum...
    latest = receive(chip, message_id="C2", text="mais uma coisa")
    inbound_attach(message_id=latest.pk)  # ...although the customer is still typing

    assert turn_wait(conversation_id=conversation_id) == 0
    assert turn_run(conversation_id=conversation_id) is TurnOutcome.ANSWERED


def test_an_audio_still_being_read_holds_the_turn(chip):
    message = receive(chip, message_id="A1", text="")
    Message.objects.filter(pk=message.pk).update(kind="audio", media={"mime_type": "audio/ogg"})
    conversation_id = inbound_attach(message_id=message.pk)

    assert turn_run(conversation_id=conversation_id) is TurnOutcome.WAITING

    Message.objects.filter(pk=message.pk).update(media_text="Quero um orçamento para 10 placas solares")
    assert turn_run(conversation_id=conversation_id) is TurnOutcome.ANSWERED


# --- a human on the phone ---------------------------------------------------------------------------


def test_a_person_answering_from_the_phone_takes_the_conversation(chip):
    conversation_id = receive_and_attach(chip, message_id="H1")
    turn_run(conversation_id=conversation_id)
    for index, bubble in enumerate(Message.objects.filter(direction="out")):
        Message.objects.filter(pk=bubble.pk).update(status="sent", provider_message_id=f"OURS{index}")
    bot_bubbles = Message.objects.filter(direction="out", origin="agent").count()

    typed = from_the_phone(chip, message_id="PHONE1", text="Oi Maria, aqui é o Carlos, vou te ajudar")
    assert inbound_attach(message_id=typed.pk) is None

    conversation = Conversation.objects.get(pk=conversation_id)
    assert conversation.owner == "human"
    assert conversation.human_until > timezone.now() + timedelta(minutes=conversation.profile.human_idle_minutes - 1)
    # While the human owns it, the bot stays silent.
    later = receive(chip, message_id="H2", text="obrigada Carlos")
    assert inbound_attach(message_id=later.pk) is None
    assert turn_run(conversation_id=conversation_id) is TurnOutcome.NOTHING_TO_DO
    assert Message.objects.filter(direction="out", origin="agent").count() == bot_bubbles
    assert Message.objects.get(pk=later.pk).status == "processed"


def test_our_own_echo_while_a_send_is_in_flight_is_not_a_takeover(chip):
    conversation_id = receive_and_attach(chip, message_id="E1")
    turn_run(conversation_id=conversation_id)
    bubble = Message.objects.filter(direction="out", origin="agent").first()
    Message.objects.filter(pk=bubble.pk).update(status="sending")  # the gateway has not answered yet

    echo = from_the_phone(chip, message_id="ECHO9", text=bubble.text)
    assert inbound_attach(message_id=echo.pk) is None

    assert Conversation.objects.get(pk=conversation_id).owner == "bot"
    assert Message.objects.get(pk=echo.pk).processed_at is None  # decided later, once the send settles


def test_a_person_typing_while_a_bubble_goes_out_takes_over_at_once(chip):
    conversation_id = receive_and_attach(chip, message_id="E2")
    turn_run(conversation_id=conversation_id)
    Message.objects.filter(direction="out", origin="agent").update(status="sending")

    typed = from_the_phone(chip, message_id="PHONE7", text="Deixa comigo, aqui é a Júlia")
    inbound_attach(message_id=typed.pk)

    assert Conversation.objects.get(pk=conversation_id).owner == "human"
    assert Message.objects.get(pk=typed.pk).processed_at is not None


def test_an_echo_is_looked_at_again_once_the_send_settles(chip, django_capture_on_commit_callbacks, monkeypatch):
    conversation_id = receive_and_attach(chip, message_id="E3")
    turn_run(conversation_id=conversation_id)
    bubble = Message.objects.filter(direction="out", origin="agent").first()
    Message.objects.filter(pk=bubble.pk).update(status="sending")
    queued = []
    monkeypatch.setattr(tasks.attach_again, "apply_async", lambda args, countdown: queued.append((args, countdown)))

    echo = from_the_phone(chip, message_id="ECHO10", text=bubble.text)
    with django_capture_on_commit_callbacks(execute=True):
        inbound_attach(message_id=echo.pk)
    assert queued == [((echo.pk,), 5)]

    # The send settled without claiming this id: a person wrote the very same words.
    Message.objects.filter(pk=bubble.pk).update(status="sent", provider_message_id="OURS-E3")
    tasks.attach_again(echo.pk)
    assert Conversation.objects.get(pk=conversation_id).owner == "human"


def test_the_bot_comes_back_when_the_human_goes_quiet(chip):
    conversation_id = receive_and_attach(chip, message_id="Q1")
    Conversation.objects.filter(pk=conversation_id).update(
        owner="human", human_until=timezone.now() - timedelta(seconds=1)
    )
    Conversation.objects.create(
        lead=Lead.objects.create(phone="+5511911112222"),
        chip=chip,
        profile=Conversation.objects.get(pk=conversation_id).profile,
        owner="human",
        human_until=timezone.now() + timedelta(minutes=10),
    )

    assert sweep().returned_to_bot == 1
    assert Conversation.objects.get(pk=conversation_id).owner == "bot"
    assert Conversation.objects.filter(owner="human").count() == 1  # that human is still talking


# --- decisions with actions -----------------------------------------------------------------------


def apply(conversation_id: int, decision: Decision) -> None:
    conversation = Conversation.objects.get(pk=conversation_id)
    Conversation.objects.filter(pk=conversation_id).update(turn_lease_token="T")
    answered = list(Message.objects.filter(conversation=conversation, direction="in", processed_at__isnull=True))
    assert decision_apply(conversation_id=conversation_id, lease_token="T", answered=answered, decision=decision)


def test_opt_out_records_it_confirms_once_and_drops_what_was_planned(chip):
    conversation_id = receive_and_attach(chip, message_id="S1", text="SAIR")
    earlier = OutboundMessageFactory(conversation_id=conversation_id, chip=chip, status="pending")
    FollowUp.objects.create(conversation_id=conversation_id, due_at=timezone.now() + timedelta(days=1))

    apply(
        conversation_id, Decision(bubbles=["Pronto, você não receberá mais mensagens.", "Até mais!"], actions=[OPT_OUT])
    )

    lead = Conversation.objects.get(pk=conversation_id).lead
    assert lead.opted_out_at is not None
    ack = Message.objects.filter(conversation_id=conversation_id, direction="out", purpose="opt_out_ack")
    assert [m.text for m in ack] == ["Pronto, você não receberá mais mensagens."]
    assert Message.objects.get(pk=earlier.pk).status == "failed"
    assert set(FollowUp.objects.values_list("status", flat=True)) == {"cancelled"}
    # A later message of the opted-out lead is recorded, never answered.
    again = receive(chip, message_id="S2", text="oi?")
    assert inbound_attach(message_id=again.pk) is None


def test_handoff_gives_the_conversation_to_a_person_with_the_reason(chip):
    conversation_id = receive_and_attach(chip, message_id="HO1", text="quero falar com um atendente")

    apply(
        conversation_id,
        Decision(
            bubbles=["Vou te passar para um especialista."], actions=[HANDOFF], handoff_reason="asked for a human"
        ),
    )

    conversation = Conversation.objects.get(pk=conversation_id)
    assert (conversation.owner, conversation.lead.stage) == ("human", "handed_off")
    assert conversation.agent_state["handoff_reason"] == "asked for a human"


def test_followup_and_quote_are_recorded(chip):
    conversation_id = receive_and_attach(chip, message_id="F1", text="me manda uma proposta semana que vem")
    due = timezone.now() + timedelta(days=7)

    apply(
        conversation_id,
        Decision(bubbles=["Combinado!"], actions=[FOLLOWUP, QUOTE], followup_at=due, quote_details="10 licenças"),
    )

    assert FollowUp.objects.get(conversation_id=conversation_id).due_at == due
    assert Conversation.objects.get(pk=conversation_id).lead.fields["quote_request"] == "10 licenças"


def test_the_lead_writing_back_cancels_the_planned_followup(chip):
    conversation_id = receive_and_attach(chip, message_id="W1")
    FollowUp.objects.create(conversation_id=conversation_id, due_at=timezone.now() + timedelta(days=1))

    receive_and_attach(chip, message_id="W2", text="voltei!")

    assert FollowUp.objects.get(conversation_id=conversation_id).status == "cancelled"


def test_the_opt_out_confirmation_is_sent_and_nothing_after_it(chip):
    conversation_id = receive_and_attach(chip, message_id="S9", text="PARAR")
    apply(conversation_id, Decision(bubbles=["Tudo bem, não enviaremos mais mensagens."], actions=[OPT_OUT]))
    later = OutboundMessageFactory(conversation_id=conversation_id, chip=chip, text="Oi, tudo bem?", proactive=True)

    with respx.mock(base_url="http://evolution.test:8080", assert_all_called=False) as gateway:
        gateway.post("/chat/sendPresence/acme-01").respond(201, json={})
        gateway.post("/chat/markMessageAsRead/acme-01").respond(201, json={})
        sent = gateway.post("/message/sendText/acme-01").mock(
            return_value=httpx.Response(201, json={"key": {"id": "ACK1", "fromMe": True}, "status": "PENDING"})
        )
        outbound_deliver(conversation_id=conversation_id)

    assert [json.loads(call.request.content)["text"] for call in sent.calls] == [
        "Tudo bem, não enviaremos mais mensagens."
    ]
    later.refresh_from_db()
    assert (later.status, later.error) == ("failed", "lead opted out")


def test_a_stop_keyword_opts_out_by_rule_whatever_the_agent(chip, settings):
    # An LLM is configured but unreachable: the rule must not even need it.
    settings.AGENT_MODEL, settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = "gpt-x", "k", "http://127.0.0.1:9/v1"
    conversation_id = receive_and_attach(chip, message_id="STOP1", text="Não quero mais receber mensagens")

    assert turn_run(conversation_id=conversation_id) is TurnOutcome.ANSWERED

    conversation = Conversation.objects.get(pk=conversation_id)
    assert conversation.lead.opted_out_at is not None
    [ack] = Message.objects.filter(conversation_id=conversation_id, direction="out")
    assert (ack.purpose, ack.agent_run.model) == ("opt_out_ack", "rule:opt_out")
    assert "não vai mais receber" in ack.text


def test_the_turn_that_opens_the_llm_breaker_raises_one_alert(chip, settings):
    # A server that refuses connections; a fresh URL so no earlier run's breaker state applies.
    settings.AGENT_MODEL, settings.OPENAI_API_KEY = "gpt-x", "k"
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:9/{uuid4().hex}/v1"
    settings.AGENT_BREAKER_FAILURES, settings.AGENT_MAX_RETRIES = 1, 0
    conversation_id = receive_and_attach(chip, message_id="BR1", text="Oi, quero saber mais")

    assert turn_run(conversation_id=conversation_id) is TurnOutcome.ANSWERED

    alert = ChipAlert.objects.get(kind="llm_breaker_open")
    assert (alert.severity, alert.chip_id, alert.resolved_at) == ("critical", None, None)
    run = Conversation.objects.get(pk=conversation_id).agent_runs.get()
    assert run.fallback_used and Message.objects.filter(conversation_id=conversation_id, direction="out").exists()


def test_the_profiles_bubble_limit_holds(chip):
    conversation_id = receive_and_attach(chip, message_id="MB1", text="Oi")
    profile = Conversation.objects.get(pk=conversation_id).profile
    profile.max_bubbles = 1
    profile.save()

    turn_run(conversation_id=conversation_id)

    [bubble] = Message.objects.filter(conversation_id=conversation_id, direction="out")
    assert "\n\n" in bubble.text  # the greeting, the intro and the first question, in one bubble
