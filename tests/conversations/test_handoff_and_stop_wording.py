"""What a customer is told and when the bot may speak again: handoffs outside business hours, STOP,
and a voice note that could not be heard, with an LLM configured."""

import copy
from datetime import datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from agent.decision import HANDOFF, Decision
from agent.prompt import build_chat_messages
from conversations.agent_context import HISTORY_LENGTH, turn_context
from conversations.models import Conversation, Message
from conversations.routing import inbound_attach
from conversations.sweeper import sweep
from conversations.turns import TurnOutcome, decision_apply, turn_run
from tests.conversations.helpers import receive, receive_and_attach, record_body
from tests.factories import ChipFactory, ConversationFactory
from tests.payloads import load_fixture

pytestmark = pytest.mark.django_db

SP = ZoneInfo("America/Sao_Paulo")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@pytest.fixture
def chip():
    return ChipFactory(instance_name="acme-01")


@pytest.fixture
def unreachable_llm(settings):
    # Configured, but nothing listens there: any call to it would fail (and fall back).
    settings.AGENT_MODEL, settings.OPENAI_API_KEY, settings.AGENT_MAX_RETRIES = "gpt-4o-mini", "sk-test", 0
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:9/{uuid4().hex}/v1"


def apply_handoff(conversation_id: int) -> None:
    Conversation.objects.filter(pk=conversation_id).update(turn_lease_token="T")
    answered = list(Message.objects.filter(conversation_id=conversation_id, direction="in", processed_at__isnull=True))
    decision = Decision(bubbles=["Vou te passar para um especialista."], actions=[HANDOFF], handoff_reason="hot lead")
    assert decision_apply(conversation_id=conversation_id, lease_token="T", answered=answered, decision=decision)


def open_only_tomorrow_at_nine(conversation_id: int) -> datetime:
    """Business hours on tomorrow's weekday only (closed now); returns tomorrow's opening."""
    profile = Conversation.objects.get(pk=conversation_id).profile
    tomorrow = timezone.now().astimezone(SP).date() + timedelta(days=1)
    profile.business_hours = {WEEKDAYS[tomorrow.weekday()]: ["09:00-18:00"]}
    profile.holidays, profile.timezone, profile.human_idle_minutes = [], "America/Sao_Paulo", 30
    profile.save()
    return datetime.combine(tomorrow, datetime.min.time().replace(hour=9), tzinfo=SP)


def test_a_handoff_outside_business_hours_keeps_the_bot_quiet_until_the_team_had_its_chance(chip):
    conversation_id = receive_and_attach(chip, message_id="HO1", text="quero falar com um atendente")
    opening = open_only_tomorrow_at_nine(conversation_id)

    apply_handoff(conversation_id)

    conversation = Conversation.objects.get(pk=conversation_id)
    assert conversation.owner == "human"
    # "Uma pessoa te responde amanhã às 09:00": the bot does not take the customer back tonight.
    assert conversation.human_until == opening + timedelta(minutes=30)
    assert sweep().returned_to_bot == 0
    later = receive(chip, message_id="HO2", text="ok, obrigado")
    assert inbound_attach(message_id=later.pk) is None


def test_a_handoff_in_business_hours_gives_the_person_the_idle_minutes(chip):
    conversation_id = receive_and_attach(chip, message_id="HO3", text="quero falar com um atendente")
    profile = Conversation.objects.get(pk=conversation_id).profile
    profile.business_hours, profile.human_idle_minutes = {}, 30  # no hours: always open
    profile.save()
    before = timezone.now()

    apply_handoff(conversation_id)

    until = Conversation.objects.get(pk=conversation_id).human_until
    assert before + timedelta(minutes=30) <= until <= timezone.now() + timedelta(minutes=30)


def test_the_stop_confirmation_promises_nothing_the_send_gate_would_break(chip, unreachable_llm):
    conversation_id = receive_and_attach(chip, message_id="ST1", text="oi, sou a Ana")
    Conversation.objects.filter(pk=conversation_id).update(agent_state={"greeted": True, "awaiting": "company"})
    Message.objects.filter(conversation_id=conversation_id).update(processed_at=timezone.now())
    stop = receive(chip, message_id="ST2", text="SAIR")
    inbound_attach(message_id=stop.pk)

    assert turn_run(conversation_id=conversation_id, debounce=False) is TurnOutcome.ANSWERED

    [ack] = Message.objects.filter(conversation_id=conversation_id, direction="out")
    assert "não vai mais receber" in ack.text
    # Writing again gets no answer, so the confirmation must not invite it.
    assert "escrever" not in ack.text and "mudar de ideia" not in ack.text
    state = Conversation.objects.get(pk=conversation_id).agent_state
    assert state == {"greeted": True, "awaiting": None, "opted_out": True}
    again = receive(chip, message_id="ST3", text="ei, esqueci de perguntar uma coisa")
    assert inbound_attach(message_id=again.pk) is None


def test_a_voice_note_that_could_not_be_heard_is_answered_without_asking_the_model(chip, unreachable_llm):
    body = copy.deepcopy(load_fixture("evolution/messages.upsert__audio_ptt_v2.json"))
    body["instance"] = chip.instance_name
    audio = record_body(chip, body)
    conversation_id = inbound_attach(message_id=audio.pk)
    Message.objects.filter(pk=audio.pk).update(
        media={**audio.media, "understood": True, "understanding_error": "transcription failed: HTTP 500"}
    )

    assert turn_run(conversation_id=conversation_id, debounce=False) is TurnOutcome.ANSWERED

    bubbles = list(
        Message.objects.filter(conversation_id=conversation_id, direction="out").values_list("text", flat=True)
    )
    assert any("Não consegui ouvir o seu áudio" in bubble for bubble in bubbles)
    run = Conversation.objects.get(pk=conversation_id).agent_runs.get()
    # No model was asked (the unreachable server would have made this a fallback).
    assert (run.model, run.fallback_used, run.error) == ("playbook", False, "")


# --- what the agent is given of a long conversation -------------------------------------------------


def test_a_long_conversation_gives_the_agent_a_digest_of_what_no_longer_fits(chip):
    conversation = ConversationFactory(chip=chip)
    base = timezone.now() - timedelta(hours=1)
    for number in range(HISTORY_LENGTH + 5):
        inbound = number % 2 == 0
        message = Message.objects.create(
            chip=chip,
            conversation=conversation,
            direction="in" if inbound else "out",
            origin="contact" if inbound else "agent",
            provider="evolution",
            status="processed" if inbound else "sent",
            text=f"mensagem {number}" + (" (meu CNPJ é da matriz em Campinas)" if number == 0 else ""),
            processed_at=timezone.now(),
        )
        Message.objects.filter(pk=message.pk).update(created_at=base + timedelta(seconds=number))
    pending = receive(chip, message_id="LONG1", text="e então?", phone_digits=conversation.lead.phone[1:])
    inbound_attach(message_id=pending.pk)

    context = turn_context(Conversation.objects.get(pk=conversation.pk), [pending])

    # 19 earlier messages fit beside the new one; the 6 before them are in the digest, oldest first.
    assert [message.text for message in context.history[:1]] == ["mensagem 6"]
    assert context.summary.splitlines() == [
        "- cliente: mensagem 0 (meu CNPJ é da matriz em Campinas)",
        "- assistente: mensagem 1",
        "- cliente: mensagem 2",
        "- assistente: mensagem 3",
        "- cliente: mensagem 4",
        "- assistente: mensagem 5",
    ]
    system = build_chat_messages(context)[0]["content"]
    assert "- cliente: mensagem 0 (meu CNPJ é da matriz em Campinas)" in system


def test_a_short_conversation_has_no_digest(chip):
    conversation_id = receive_and_attach(chip, message_id="SHORT1", text="oi")
    conversation = Conversation.objects.get(pk=conversation_id)

    context = turn_context(conversation, list(Message.objects.filter(conversation=conversation)))

    assert context.summary == ""
