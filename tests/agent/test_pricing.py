from decimal import Decimal

import pytest

from agent.brain import decide
from agent.pricing import PriceTableError, parse_price_table, price_table, turn_cost

from .conftest import llm_config
from .profiles import turn


def test_cost_is_tokens_times_the_price_per_million():
    cost = turn_cost("gpt-4o-mini", 1_000_000, 200_000, price_table())

    assert cost.priced is True
    assert cost.amount == Decimal("0.270000")  # 1M x 0.15 + 0.2M x 0.60


def test_dated_snapshots_and_provider_prefixes_find_their_model():
    table = price_table()

    assert turn_cost("gpt-4o-mini-2024-07-18", 1_000_000, 0, table).amount == Decimal("0.15")
    assert turn_cost("openai/gpt-4o", 1_000_000, 0, table).amount == Decimal("2.5")
    # The longest listed prefix wins: a gpt-4.1-mini snapshot is not priced as gpt-4.1.
    assert turn_cost("gpt-4.1-mini-2025-04-14", 0, 1_000_000, table).amount == Decimal("1.6")


def test_unknown_model_costs_nothing_and_says_so():
    cost = turn_cost("llama3.1:8b", 5000, 500, price_table())

    assert cost == type(cost)(amount=Decimal("0"), priced=False)


def test_configured_prices_override_and_extend_the_defaults():
    table = price_table('{"gpt-4o-mini": [1, 2], "llama3.1:8b": [0, 0]}')

    assert turn_cost("gpt-4o-mini", 1_000_000, 1_000_000, table).amount == Decimal("3")
    assert turn_cost("llama3.1:8b", 10, 10, table).priced is True
    assert turn_cost("gpt-4o", 1_000_000, 0, table).amount == Decimal("2.5")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{not json", "not valid JSON"),
        ('["gpt-4o", 1, 2]', "must be a JSON object"),
        ('{"m": [1]}', r"must be \[input, output\]"),
        ('{"m": ["a", 1]}', "non-number"),
        ('{"m": [-1, 1]}', "zero or more"),
    ],
)
def test_a_malformed_price_table_is_refused_clearly(raw, message):
    with pytest.raises(PriceTableError, match=message):
        parse_price_table(raw)


def test_each_llm_turn_carries_its_cost(fake_llm, settings):
    settings.AGENT_PRICE_TABLE = {"gpt-4o-mini": [2, 10]}

    decision = decide(turn("Oi"), llm=llm_config(fake_llm.base_url))

    # 50 prompt and 8 completion tokens from the fake server.
    assert decision.run.cost == Decimal("0.000180")
    assert decision.run.flags == []


def test_an_unpriced_model_is_noted_in_the_run(fake_llm):
    decision = decide(turn("Oi"), llm=llm_config(fake_llm.base_url, model="my-local-model"))

    assert decision.run.cost == Decimal("0")
    assert decision.run.flags == ["price_unknown"]
    assert decision.run.error == "no price for model 'my-local-model', cost 0"
    assert decision.run.fallback_used is False


def test_a_broken_price_table_setting_does_not_break_the_turn(fake_llm, settings):
    settings.AGENT_PRICE_TABLE = {"gpt-4o-mini": "cheap"}

    decision = decide(turn("Oi"), llm=llm_config(fake_llm.base_url))

    assert decision.bubbles == ["Olá!", "Qual é o seu nome?"]
    assert decision.run.cost == Decimal("0")
    assert decision.run.flags == ["price_table_invalid"]


@pytest.mark.django_db
def test_a_turn_stores_the_cost_of_its_run(fake_llm, settings):
    from conversations.models import AgentRun
    from conversations.turns import turn_run
    from tests.conversations.helpers import receive_and_attach
    from tests.factories import ChipFactory

    settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL, settings.AGENT_MODEL = (
        "sk-test",
        fake_llm.base_url,
        "gpt-4o-mini",
    )
    conversation_id = receive_and_attach(ChipFactory(instance_name="cost-01"), message_id="COST1", text="Oi")

    turn_run(conversation_id=conversation_id)

    run = AgentRun.objects.get(conversation_id=conversation_id)
    assert (run.model, run.prompt_tokens, run.completion_tokens) == ("gpt-4o-mini", 50, 8)
    assert run.cost == Decimal("0.000012")
