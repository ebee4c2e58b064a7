"""One LLM turn's accounting for its AgentRun: model, tokens, cost, latency, tool calls, notes."""

from __future__ import annotations

from agent import pricing
from agent.decision import RunInfo
from agent.llm import Usage
from agent.playbook import PLAYBOOK_MODEL

MAX_ERROR_LENGTH = 200


def run_info(usage: Usage) -> RunInfo:
    """The run of a turn that reached the model (the playbook's name when no answer came back)."""
    run = RunInfo(
        model=usage.model if usage.completions else PLAYBOOK_MODEL,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        latency_ms=usage.latency_ms,
        tool_calls=list(usage.tool_calls),
    )
    if not usage.completions:
        return run
    try:
        cost = pricing.turn_cost(
            usage.model, usage.prompt_tokens, usage.completion_tokens, pricing.price_table_from_settings()
        )
    except pricing.PriceTableError as exc:
        # A broken setting must not break the turn; the run says so, so the operator fixes it.
        note(run, "price_table_invalid", str(exc))
        return run
    run.cost = cost.amount
    if not cost.priced:
        note(run, "price_unknown", f"no price for model {usage.model!r}, cost 0")
    return run


def note(run: RunInfo, flag: str, message: str = "") -> None:
    """Tag the run with `flag` once; `message` also goes into its error text, for the admin."""
    if flag not in run.flags:
        run.flags.append(flag)
        if message:
            run.error = join_errors(run.error, message)


def join_errors(*parts: str) -> str:
    return "; ".join(part for part in parts if part)[: MAX_ERROR_LENGTH * 2]
