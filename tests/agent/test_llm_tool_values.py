"""Tool-call values as models really write them: amounts in words, deadlines and follow-up times in
the customer's Portuguese, and calls that are only partly right."""

from datetime import UTC, datetime

import pytest

from agent.brain import decide
from agent.decision import FOLLOWUP, OPT_OUT
from agent.fallback import OPT_OUT_CONFIRMATION
from agent.tools import ToolCallError, parse_when

from .conftest import llm_config
from .fake_openai import chat_completion, stall, tool_call
from .profiles import turn

NOW = datetime(2025, 3, 10, 15, 0, tzinfo=UTC)  # a Monday, noon in São Paulo


def play(fake_llm, *entries, context=None, **config):
    fake_llm.script = list(entries)
    return decide(context or turn("Oi"), llm=llm_config(fake_llm.base_url, **config), now=NOW)


def tool_messages(request):
    return [message for message in request["messages"] if message["role"] == "tool"]


@pytest.mark.parametrize(
    "budget", ["R$ 5.000", 5000, "5 mil", "5.000", "R$ 5.000,00", "uns 5 mil", "5000", "R$ 5.000/mês", "5 mil mensais"]
)
def test_a_budget_is_read_in_reais_however_the_model_writes_it(fake_llm, budget):
    decision = play(
        fake_llm,
        chat_completion(tool_calls=[tool_call("update_lead", {"fields": {"budget": budget}})]),
        chat_completion("Anotado! E para quando você precisa?"),
        context=turn("uns 5 mil"),
    )

    assert decision.field_updates == {"budget": 5000}
    assert decision.run.fallback_used is False
    assert len(fake_llm.requests) == 2  # no correction round was needed
    assert tool_messages(fake_llm.requests[1])[0]["content"] == "ok"


def test_a_budget_without_an_amount_is_refused_with_a_useful_message(fake_llm):
    decision = play(
        fake_llm,
        chat_completion(tool_calls=[tool_call("update_lead", {"fields": {"budget": "depende"}})]),
        chat_completion("Tudo bem! E para quando você precisa?"),
    )

    assert "budget" not in decision.field_updates
    assert "fields.budget must be an amount in reais" in tool_messages(fake_llm.requests[1])[0]["content"]


def test_the_valid_fields_of_a_partly_wrong_update_are_kept_when_the_model_moves_on(fake_llm):
    decision = play(
        fake_llm,
        chat_completion(
            tool_calls=[
                tool_call(
                    "update_lead", {"fields": {"need": "automatizar o WhatsApp", "budget": "depende", "cargo": "x"}}
                )
            ]
        ),
        # The model answers without fixing the call: what it got right must not be lost.
        chat_completion("Entendi! E qual é o orçamento previsto?"),
        context=turn("quero automatizar o WhatsApp", lead_fields={"name": "Ana", "company": "Padaria Sol"}),
    )

    assert decision.field_updates == {"need": "automatizar o WhatsApp"}
    assert decision.bubbles == ["Entendi! E qual é o orçamento previsto?"]
    assert decision.run.fallback_used is False
    feedback = tool_messages(fake_llm.requests[1])[0]["content"]
    assert "fields.budget" in feedback and "fields.cargo is not an allowed key" in feedback
    assert "Os outros campos (need) foram registrados" in feedback
    assert decision.run.tool_calls[0]["valid"] is False
    assert decision.run.tool_calls[0]["applied"] == "need"
    # The lead's next question is the budget, not the need again.
    assert decision.state["awaiting"] == "budget"


def test_a_call_wrong_in_every_field_applies_nothing(fake_llm):
    decision = play(
        fake_llm,
        chat_completion(tool_calls=[tool_call("update_lead", {"fields": {"budget": "depende", "cargo": "x"}})]),
        chat_completion("Certo! Qual é o seu nome?"),
    )

    assert decision.field_updates == {}
    assert "foram registrados" not in tool_messages(fake_llm.requests[1])[0]["content"]


@pytest.mark.parametrize(
    ("timeline", "stored"),
    [
        ("mês que vem", "2025-04-30 (mês que vem)"),
        ("em 30 dias", "2025-04-09 (em 30 dias)"),
        ("2025-04-30 (mês que vem)", "2025-04-30 (mês que vem)"),
        ("sem pressa", "sem pressa"),
    ],
)
def test_a_deadline_in_words_is_stored_with_its_date_as_the_playbook_stores_it(fake_llm, timeline, stored):
    decision = play(
        fake_llm,
        chat_completion(tool_calls=[tool_call("update_lead", {"fields": {"timeline": timeline}})]),
        chat_completion("Perfeito!"),
    )

    assert decision.field_updates == {"timeline": stored}


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("amanhã às 10h", datetime(2025, 3, 11, 13, 0, tzinfo=UTC)),
        ("Amanhã, 10:30", datetime(2025, 3, 11, 13, 30, tzinfo=UTC)),
        ("sexta às 3 da tarde", datetime(2025, 3, 14, 18, 0, tzinfo=UTC)),
        ("segunda-feira de manhã", datetime(2025, 3, 17, 13, 0, tzinfo=UTC)),  # today is Monday: the next one
        ("hoje às 17h", datetime(2025, 3, 10, 20, 0, tzinfo=UTC)),
        ("dia 20 às 9h", datetime(2025, 3, 20, 12, 0, tzinfo=UTC)),
        ("dia 5", datetime(2025, 4, 5, 13, 0, tzinfo=UTC)),  # the 5th has passed: next month's
        ("2025-03-12", datetime(2025, 3, 12, 13, 0, tzinfo=UTC)),  # a date alone: that morning, not midnight
    ],
)
def test_follow_up_times_in_the_customers_words_are_read_in_brazil(when, expected):
    assert parse_when(when, now=NOW) == expected


def test_a_follow_up_asked_for_in_portuguese_is_scheduled_without_a_correction(fake_llm):
    decision = play(
        fake_llm,
        chat_completion(tool_calls=[tool_call("schedule_followup", {"when": "amanhã às 10h"})]),
        chat_completion("Combinado! Te chamo amanhã às 10h. 😊"),
        context=turn("pode me chamar amanhã às 10h? agora estou corrido"),
    )

    assert decision.actions == [FOLLOWUP]
    assert decision.followup_at == datetime(2025, 3, 11, 13, 0, tzinfo=UTC)
    assert decision.run.fallback_used is False
    assert len(fake_llm.requests) == 2


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("31/02 às 10h", "a day that does not exist"),
        ("amanhã às 25h", "impossible time"),
        ("hoje às 12h", "between 10 minutes and 60 days"),  # noon has just passed
        ("quando der", "amanhã às 10h"),  # the message shows the forms that work
    ],
)
def test_follow_up_times_that_cannot_be_used_are_refused(when, message):
    with pytest.raises(ToolCallError, match=message):
        parse_when(when, now=NOW)


def test_a_turn_that_timed_out_records_how_long_the_customer_waited(fake_llm, settings):
    settings.AGENT_MAX_RETRIES = 0

    decision = play(fake_llm, stall(1.0), timeout=0.3)

    assert decision.run.fallback_used is True
    assert decision.run.error == "APITimeoutError"
    assert decision.run.model == "playbook"
    assert decision.run.latency_ms >= 300


@pytest.mark.parametrize(
    ("reply", "bubble"),
    [
        (
            "Entendido, Júlia.\n\nVocê não vai mais receber mensagens nossas. Desculpe o incômodo!",
            "Entendido, Júlia. Você não vai mais receber mensagens nossas. Desculpe o incômodo!",
        ),
        ("Tudo bem!", OPT_OUT_CONFIRMATION),  # says nothing about the messages stopping
        ("Pronto! Fale com a gente em https://promo.example.com", OPT_OUT_CONFIRMATION),  # refused by the guards
    ],
)
def test_an_opt_out_is_confirmed_in_the_one_bubble_that_goes_out(fake_llm, reply, bubble):
    decision = play(
        fake_llm,
        chat_completion(tool_calls=[tool_call("opt_out", {})]),
        chat_completion(reply),
        context=turn("chega dessas mensagens, não tenho interesse"),
    )

    assert decision.actions == [OPT_OUT]
    assert decision.bubbles == [bubble]
