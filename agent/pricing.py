"""What an LLM turn cost, from a price table of USD per million tokens (input, output).

The table is `DEFAULT_PRICES` overlaid with the `AGENT_PRICE_TABLE` setting, e.g.
`{"gpt-4o-mini": [0.15, 0.60], "llama3.1": [0, 0]}`. A model is found by its exact name, then
without a provider prefix ("openai/gpt-4o-mini"), then by the longest listed name it starts with
("gpt-4o-mini-2024-07-18" is priced as "gpt-4o-mini"). An unknown model costs 0 and is reported,
so the operator can add its price.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

PER_TOKENS = Decimal(1_000_000)
# AgentRun.cost keeps six decimal places.
COST_QUANTUM = Decimal("0.000001")

# Public list prices (USD per 1M tokens, input then output) of common models; override or extend
# them with AGENT_PRICE_TABLE when prices change or another server is used.
DEFAULT_PRICES: dict[str, tuple[Decimal, Decimal]] = {
    "gpt-4o-mini": (Decimal("0.15"), Decimal("0.60")),
    "gpt-4o": (Decimal("2.50"), Decimal("10.00")),
    "gpt-4.1-nano": (Decimal("0.10"), Decimal("0.40")),
    "gpt-4.1-mini": (Decimal("0.40"), Decimal("1.60")),
    "gpt-4.1": (Decimal("2.00"), Decimal("8.00")),
    "gpt-5-nano": (Decimal("0.05"), Decimal("0.40")),
    "gpt-5-mini": (Decimal("0.25"), Decimal("2.00")),
    "gpt-5": (Decimal("1.25"), Decimal("10.00")),
}

PriceTable = Mapping[str, tuple[Decimal, Decimal]]


class PriceTableError(ValueError):
    """AGENT_PRICE_TABLE is not a mapping of model name to [input, output] prices."""


@dataclass(frozen=True)
class Cost:
    amount: Decimal
    priced: bool  # False when the model is not in the table (amount is then 0)


def parse_price_table(raw: Any) -> dict[str, tuple[Decimal, Decimal]]:
    """Read a price table from JSON text or an already decoded mapping; raise on anything else."""
    if raw in (None, ""):
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise PriceTableError(f"AGENT_PRICE_TABLE is not valid JSON: {exc.msg}") from None
    if not isinstance(raw, Mapping):
        raise PriceTableError("AGENT_PRICE_TABLE must be a JSON object of model: [input, output]")
    table: dict[str, tuple[Decimal, Decimal]] = {}
    for model, prices in raw.items():
        if not isinstance(prices, list | tuple) or len(prices) != 2:
            raise PriceTableError(f"AGENT_PRICE_TABLE[{model!r}] must be [input, output] USD per 1M tokens")
        table[str(model)] = (_price(model, prices[0]), _price(model, prices[1]))
    return table


def _price(model: str, value: Any) -> Decimal:
    if isinstance(value, bool):
        raise PriceTableError(f"AGENT_PRICE_TABLE[{model!r}] holds a non-number")
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        raise PriceTableError(f"AGENT_PRICE_TABLE[{model!r}] holds a non-number") from None
    if not price.is_finite() or price < 0:
        raise PriceTableError(f"AGENT_PRICE_TABLE[{model!r}] prices must be zero or more")
    return price


def price_table(configured: Any = None) -> dict[str, tuple[Decimal, Decimal]]:
    """The default prices overlaid with a configured table (JSON text or mapping)."""
    return {**DEFAULT_PRICES, **parse_price_table(configured)}


def price_table_from_settings() -> dict[str, tuple[Decimal, Decimal]]:
    from django.conf import settings

    configured = getattr(settings, "AGENT_PRICE_TABLE", None) if settings.configured else None
    return price_table(configured)


def find_prices(model: str, table: PriceTable) -> tuple[Decimal, Decimal] | None:
    if model in table:
        return table[model]
    bare = model.rsplit("/", 1)[-1]
    if bare in table:
        return table[bare]
    # Dated snapshots and variants ("gpt-4o-mini-2024-07-18"): the longest listed prefix wins, so
    # "gpt-4o-mini-…" is never priced as "gpt-4o".
    prefixes = [name for name in table if bare.startswith(name + "-")]
    if prefixes:
        return table[max(prefixes, key=len)]
    return None


def turn_cost(model: str, prompt_tokens: int, completion_tokens: int, table: PriceTable) -> Cost:
    prices = find_prices(model, table)
    if prices is None:
        return Cost(amount=Decimal("0"), priced=False)
    input_price, output_price = prices
    amount = (Decimal(prompt_tokens) * input_price + Decimal(completion_tokens) * output_price) / PER_TOKENS
    return Cost(amount=amount.quantize(COST_QUANTUM), priced=True)
