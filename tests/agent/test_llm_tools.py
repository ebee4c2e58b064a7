"""The LLM path with tool calling, against a real HTTP fake of an OpenAI-compatible server."""

from datetime import UTC, datetime, timedelta

import pytest

from agent.brain import decide
from agent.decision import FOLLOWUP, HANDOFF, OPT_OUT, QUOTE
from agent.fallback import PERSON_FOLLOWS_UP
from agent.scoring import score, temperature
from agent.tools import ToolCallError, parse_when, validate_call

from .conftest import llm_config
from .fake_openai import chat_completion, error_status, stall, tool_call
from .profiles import SALES_PROFILE, turn

NOW = datetime(2025, 3, 10, 15, 0, tzinfo=UTC)


def play(fake_llm, *entries, context=None, **config):
    fake_llm.script = list(entries)
    return decide(context or turn("Oi"), llm=llm_config(fake_llm.base_url, **config), now=NOW)


def tool_messages(request):
    return [message for message in request["messages"] if message["role"] == "tool"]


def test_update_lead_records_typed_fields_and_scores_like_the_playbook(fake_llm):
    decision = play(
        fake_llm,
        chat_completion(
            tool_calls=[
                tool_call(
                    "update_lead",
                    {
                        "fields": {
                            "name": " Maria Souza ",
                            "need": "controlar o estoque",
                            "email": "Maria@Padaria.com.br",
                        }
                    },
                )
            ]
        ),
        chat_completion("Prazer, Maria!\n\nQual é a sua empresa?"),
        context=turn("sou a Maria Souza, quero controlar o estoque, maria@padaria.com.br"),
    )

    assert decision.field_updates == {
        "name": "Maria Souza",
        "need": "controlar o estoque",
        "email": "maria@padaria.com.br",
    }
    known = decision.field_updates
    assert decision.score == score(SALES_PROFILE, known, today=NOW.date()) == 40
    assert decision.temperature == temperature(SALES_PROFILE, 40) == "warm"
    assert decision.stage == "qualifying"
    assert decision.actions == []
    assert decision.bubbles == ["Prazer, Maria!", "Qual é a sua empresa?"]
    assert decision.state["awaiting"] == "company"
    assert decision.run.fallback_used is False
    assert decision.run.prompt_tokens == 100 and decision.run.completion_tokens == 16
    assert decision.run.tool_calls == [
        {
            "name": "update_lead",
            "arguments": {
                "fields": {"name": " Maria Souza ", "need": "controlar o estoque", "email": "Maria@Padaria.com.br"}
            },
            "valid": True,
        }
    ]
    # The tool's result went back to the model with the id of its call.
    assistant = fake_llm.requests[1]["messages"][-2]
    assert assistant["role"] == "assistant" and assistant["tool_calls"][0]["function"]["name"] == "update_lead"
    assert tool_messages(fake_llm.requests[1]) == [
        {"role": "tool", "tool_call_id": assistant["tool_calls"][0]["id"], "content": "ok"}
    ]


def test_money_accepts_a_plain_number_or_numeric_string(fake_llm):
    decision = play(
        fake_llm,
        chat_completion(tool_calls=[tool_call("update_lead", {"fields": {"budget": "2000", "city": "Curitiba"}})]),
        chat_completion("Anotado!"),
    )

    assert decision.field_updates == {"budget": 2000, "city": "Curitiba"}
    assert isinstance(decision.field_updates["budget"], int)


def test_a_hot_lead_with_every_answer_is_handed_off_even_if_the_model_forgets(fake_llm):
    done = {"name": "Maria", "company": "Padaria", "need": "estoque", "budget": 20000}

    decision = play(
        fake_llm,
        chat_completion(tool_calls=[tool_call("update_lead", {"fields": {"timeline": "2025-04-30 (mês que vem)"}})]),
        chat_completion("Perfeito, obrigada!"),
        context=turn("mês que vem", lead_fields=done),
    )

    known = {**done, "timeline": "2025-04-30 (mês que vem)"}
    assert decision.score == score(SALES_PROFILE, known, today=NOW.date()) >= 70
    assert decision.temperature == "hot"
    assert decision.actions == [HANDOFF]
    assert decision.handoff_reason == "hot lead"
    assert decision.stage == "handed_off"
    assert decision.bubbles == ["Perfeito, obrigada!", PERSON_FOLLOWS_UP]
    assert "hot_lead_handoff" in decision.run.flags
    assert decision.state["awaiting"] is None


def test_a_warm_lead_with_every_answer_is_qualified_and_stays_with_the_bot(fake_llm):
    done = {"name": "Maria", "company": "Padaria", "need": "estoque"}

    decision = play(
        fake_llm,
        chat_completion(
            tool_calls=[
                tool_call("update_lead", {"fields": {"timeline": "quando der"}, "declined": ["budget"]}),
            ]
        ),
        chat_completion("Obrigada! Nosso time vai analisar as informações."),
        context=turn("não sei o orçamento, quando der", lead_fields=done),
    )

    assert decision.temperature != "hot"
    assert decision.stage == "qualified"
    assert decision.actions == []
    assert decision.state["skipped"] == ["budget"]
    assert decision.field_updates == {"timeline": "quando der"}


def test_handoff_to_human_sets_the_action_reason_and_stage(fake_llm):
    decision = play(
        fake_llm,
        chat_completion(tool_calls=[tool_call("handoff_to_human", {"reason": "cliente pediu um humano"})]),
        chat_completion("Claro! Um especialista vai continuar a conversa com você."),
        context=turn("quero falar com uma pessoa"),
    )

    assert decision.actions == [HANDOFF]
    assert decision.handoff_reason == "cliente pediu um humano"
    assert decision.stage == "handed_off"
    assert decision.state["handed_off"] is True


def test_handoff_outside_business_hours_says_when_a_person_answers(fake_llm):
    context = turn("quero falar com alguém")
    context = type(context)(**{**context.__dict__, "business_open": False, "next_opening": "segunda-feira às 08:00"})

    decision = play(
        fake_llm,
        chat_completion(tool_calls=[tool_call("handoff_to_human", {"reason": "pediu humano"})]),
        chat_completion("Claro! Vou chamar alguém do time."),
        context=context,
    )

    assert (
        decision.bubbles[-1] == "Uma pessoa do nosso time vai continuar o atendimento com você segunda-feira às 08:00."
    )
    assert "Fora do horário" in fake_llm.requests[0]["messages"][0]["content"]


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("in 2 days", NOW + timedelta(days=2)),
        ("em 3 horas", NOW + timedelta(hours=3)),
        ("2025-03-12T14:00:00-03:00", datetime(2025, 3, 12, 17, 0, tzinfo=UTC)),
        ("2025-03-12T14:00:00", datetime(2025, 3, 12, 17, 0, tzinfo=UTC)),  # Brazil time when no offset
    ],
)
def test_schedule_followup_reads_iso_and_relative_times(fake_llm, when, expected):
    decision = play(
        fake_llm,
        chat_completion(tool_calls=[tool_call("schedule_followup", {"when": when})]),
        chat_completion("Combinado, falo com você depois!"),
    )

    assert decision.actions == [FOLLOWUP]
    assert decision.followup_at == expected


def test_request_quote_and_opt_out_map_to_actions(fake_llm):
    quote = play(
        fake_llm,
        chat_completion(tool_calls=[tool_call("request_quote", {"details": "ERP para 3 lojas, 12 usuários"})]),
        chat_completion("Vou pedir a proposta ao time."),
    )
    opt_out = play(
        fake_llm,
        chat_completion(tool_calls=[tool_call("opt_out", "")]),
        chat_completion("Tudo bem, você não vai mais receber mensagens nossas."),
    )

    assert quote.actions == [QUOTE]
    assert quote.quote_details == "ERP para 3 lojas, 12 usuários"
    assert opt_out.actions == [OPT_OUT]
    assert opt_out.bubbles == ["Tudo bem, você não vai mais receber mensagens nossas."]


def test_reply_sent_with_the_tool_calls_needs_no_second_request(fake_llm):
    decision = play(
        fake_llm,
        chat_completion("Anotado, Maria!", tool_calls=[tool_call("update_lead", {"fields": {"name": "Maria"}})]),
    )

    assert decision.field_updates == {"name": "Maria"}
    assert decision.bubbles == ["Anotado, Maria!"]
    assert len(fake_llm.requests) == 1


def test_malformed_arguments_are_fed_back_once_and_the_correction_is_used(fake_llm):
    decision = play(
        fake_llm,
        chat_completion(tool_calls=[tool_call("update_lead", '{"fields": {"name": "Maria"')]),
        chat_completion(tool_calls=[tool_call("update_lead", {"fields": {"name": "Maria"}})]),
        chat_completion("Prazer, Maria!"),
    )

    assert decision.run.fallback_used is False
    assert decision.field_updates == {"name": "Maria"}
    feedback = tool_messages(fake_llm.requests[1])
    assert len(feedback) == 1 and feedback[0]["content"].startswith("ERRO: arguments are not valid JSON")
    assert [call["valid"] for call in decision.run.tool_calls] == [False, True]
    assert decision.run.tool_calls[0]["arguments"] == '{"fields": {"name": "Maria"'


def test_wrong_types_twice_fall_back_to_the_playbook_and_keep_the_accounting(fake_llm):
    decision = play(
        fake_llm,
        chat_completion(tool_calls=[tool_call("update_lead", {"fields": {"budget": "depende do projeto"}})]),
        chat_completion(tool_calls=[tool_call("update_lead", {"fields": {"budget": True}})]),
        chat_completion("never asked for"),
        context=turn("Oi", push_name="Maria"),
    )

    assert decision.run.fallback_used is True
    assert decision.run.error.startswith("LLMReplyError: invalid tool call after correction")
    assert "budget" in decision.run.error
    assert decision.run.model == "gpt-4o-mini"
    assert decision.run.prompt_tokens == 100
    assert decision.field_updates.get("budget") is None
    assert len(fake_llm.requests) == 2
    assert "fields.budget must be an amount in reais" in tool_messages(fake_llm.requests[1])[0]["content"]


def test_unknown_keys_and_tools_are_refused_with_a_useful_message(fake_llm):
    decision = play(
        fake_llm,
        chat_completion(
            tool_calls=[
                tool_call("update_lead", {"fields": {"salary": 10}}),
                tool_call("send_email", {"to": "x@y.com"}),
            ]
        ),
        chat_completion("Pode me dizer o seu nome?"),
    )

    feedback = [message["content"] for message in tool_messages(fake_llm.requests[1])]
    assert "fields.salary is not an allowed key" in feedback[0]
    assert "unknown tool 'send_email'" in feedback[1]
    assert decision.field_updates == {}
    assert decision.bubbles == ["Pode me dizer o seu nome?"]
    assert decision.run.fallback_used is False
    assert [call["name"] for call in decision.run.tool_calls] == ["update_lead", "send_email"]


def test_tool_rounds_are_bounded_and_the_last_round_forbids_tools(fake_llm):
    calling = [chat_completion(tool_calls=[tool_call("update_lead", {"fields": {"name": "Ana"}})]) for _ in range(3)]

    decision = play(fake_llm, *calling)

    assert [request["tool_choice"] for request in fake_llm.requests] == ["auto", "auto", "none"]
    assert decision.run.fallback_used is True
    assert decision.run.error.startswith("LLMNoReplyError: no reply after 3 rounds")
    # What the model recorded is kept; the playbook's words carry the conversation on.
    assert decision.field_updates == {"name": "Ana"}
    assert decision.bubbles[-1] == "Qual é a sua empresa?"


def test_tool_calls_without_any_text_are_kept_and_the_next_question_asked(fake_llm):
    decision = play(
        fake_llm,
        chat_completion(tool_calls=[tool_call("update_lead", {"fields": {"name": "Ana", "company": "Padaria"}})]),
        chat_completion(""),
        context=turn("Ana, da Padaria", state={"greeted": True, "awaiting": "name"}),
    )

    assert decision.field_updates == {"name": "Ana", "company": "Padaria"}
    assert decision.bubbles[-1] == "O que você está buscando resolver?"
    assert decision.state["awaiting"] == "need"
    assert decision.run.fallback_used is True
    assert decision.run.model == "gpt-4o-mini"


def test_a_handoff_without_text_tells_the_customer_a_person_follows_up(fake_llm):
    decision = play(
        fake_llm,
        chat_completion(tool_calls=[tool_call("handoff_to_human", {"reason": "pediu humano"})]),
        chat_completion(None),
    )

    assert decision.actions == [HANDOFF]
    assert decision.bubbles == ["Uma pessoa do nosso time vai continuar o atendimento com você em breve."]


def test_rate_limit_is_retried_and_the_turn_succeeds(fake_llm, settings):
    settings.AGENT_MAX_RETRIES = 1

    decision = play(fake_llm, error_status(429), chat_completion("Olá! Qual é o seu nome?"))

    assert decision.run.fallback_used is False
    assert decision.bubbles == ["Olá! Qual é o seu nome?"]
    assert len(fake_llm.requests) == 2


def test_timeout_is_retried_then_gives_up_to_the_playbook(fake_llm, settings):
    settings.AGENT_MAX_RETRIES = 1

    recovered = play(fake_llm, stall(1.0), chat_completion("Oi! Qual é o seu nome?"), timeout=0.3)
    failed = play(fake_llm, stall(1.0), stall(1.0), timeout=0.3)

    assert recovered.run.fallback_used is False and recovered.bubbles == ["Oi! Qual é o seu nome?"]
    assert failed.run.fallback_used is True and failed.run.error == "APITimeoutError"


def test_validation_of_follow_up_times():
    with pytest.raises(ToolCallError, match="between 10 minutes and 60 days"):
        parse_when("in 90 days", now=NOW)
    with pytest.raises(ToolCallError, match="between 10 minutes and 60 days"):
        parse_when("2020-01-01T10:00:00Z", now=NOW)
    with pytest.raises(ToolCallError, match="ISO 8601"):
        parse_when("semana que vem", now=NOW)


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        ("update_lead", {"fields": {"email": "not-an-email"}}, "fields.email must be a valid e-mail"),
        ("update_lead", {"fields": {"name": 42}}, "fields.name must be a string"),
        ("update_lead", {"fields": {"name": None}}, "at least one field"),
        ("update_lead", {"fields": "Maria"}, "fields Input should be a valid dictionary"),
        ("update_lead", {"name": "Maria"}, "name is not an allowed key"),
        ("handoff_to_human", {}, "reason Field required"),
        ("handoff_to_human", {"reason": "   "}, "reason String should have at least 1 character"),
        ("opt_out", {"now": True}, "now is not an allowed key"),
        ("request_quote", {"details": ["a"]}, "details must be a string"),
    ],
)
def test_invalid_arguments_name_the_problem(name, arguments, message):
    with pytest.raises(ToolCallError) as error:
        validate_call(name, arguments, profile=SALES_PROFILE, now=NOW)
    assert message in str(error.value)
