"""The LLM conversation of one turn: Chat Completions with the closed tool set.

The model may call tools for a few rounds and then writes the reply. Every call is validated
before it counts; an invalid call (bad JSON, wrong types, unknown tool) is answered with the
validation error once (the valid fields of a partly wrong `update_lead` are kept meanwhile), and
a second invalid call ends the turn with `LLMTurnError`, as do server errors, timeouts and a
reply with no text. The error carries what the attempt used (tokens, tool calls) so the run
accounts for it even when the playbook answers.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import openai
from openai import OpenAI

from agent.context import LLMConfig, TurnContext
from agent.prompt import build_chat_messages
from agent.tools import ToolCallError, ToolEffects, apply_call, parse_arguments, tool_schemas, validate_call

MAX_TOOL_ROUNDS = 3
DEFAULT_MAX_RETRIES = 2
MAX_RECORDED_ARGUMENTS = 500


class LLMReplyError(Exception):
    """The server answered, but with nothing we can use (no choices, no text, invalid tool calls)."""


class LLMNoReplyError(LLMReplyError):
    """The model answered without any text to send (possibly after valid tool calls)."""


class LLMTurnError(Exception):
    """The LLM turn failed.

    `cause` is the original error, `usage` what the turn consumed before failing and `effects`
    what its valid tool calls had asked for by then.
    """

    def __init__(self, cause: BaseException, usage: Usage, effects: ToolEffects) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.usage = usage
        self.effects = effects

    @property
    def is_outage(self) -> bool:
        """The server failed (not the model's answer): this counts against the circuit breaker."""
        return isinstance(self.cause, openai.APIError) and not isinstance(self.cause, openai.APIResponseValidationError)


@dataclass
class Usage:
    """What one LLM turn consumed and called, for the run's accounting."""

    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: int = 0
    completions: int = 0  # answers the server actually gave
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class LLMTurn:
    reply: str
    effects: ToolEffects
    usage: Usage


def model_for(context: TurnContext, llm: LLMConfig) -> str:
    # A profile may pin its own model; the config's model is the deployment default.
    return context.profile.model or llm.model


def make_client(llm: LLMConfig, *, max_retries: int = DEFAULT_MAX_RETRIES) -> OpenAI:
    return _client(llm.api_key, llm.base_url or None, llm.timeout_seconds, max_retries)


@functools.lru_cache(maxsize=32)
def _client(api_key: str, base_url: str | None, timeout: float, max_retries: int) -> OpenAI:
    # One client per configuration, shared by the worker's threads (it is thread-safe): a client per
    # turn would build a TLS context and open a new connection to the provider every time.
    # The SDK retries connection errors, timeouts, 429 and 5xx itself, honouring Retry-After.
    return OpenAI(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries)


def run_llm_turn(
    context: TurnContext,
    *,
    llm: LLMConfig,
    now: datetime,
    injection_kinds: tuple[str, ...] = (),
    client: OpenAI | None = None,
) -> LLMTurn:
    """Talk to the model until it replies; raises `LLMTurnError` when the turn cannot be used."""
    usage = Usage(model=model_for(context, llm))
    effects = ToolEffects()
    started = time.monotonic()
    try:
        return _conversation(context, now, injection_kinds, client or make_client(llm), usage, effects)
    except Exception as exc:
        raise LLMTurnError(exc, usage, effects) from exc
    finally:
        usage.latency_ms = round((time.monotonic() - started) * 1000)


def _conversation(
    context: TurnContext,
    now: datetime,
    injection_kinds: tuple[str, ...],
    client: OpenAI,
    usage: Usage,
    effects: ToolEffects,
) -> LLMTurn:
    messages: list[dict[str, Any]] = build_chat_messages(context, now=now, injection_kinds=injection_kinds)
    tools = tool_schemas(context.profile)
    corrected_once = False
    for round_number in range(1, MAX_TOOL_ROUNDS + 1):
        # The last round must produce the reply: the model may no longer call tools.
        tool_choice = "none" if round_number == MAX_TOOL_ROUNDS else "auto"
        response = client.chat.completions.create(
            model=usage.model, messages=messages, tools=tools, tool_choice=tool_choice
        )
        usage.completions += 1
        if response.usage:
            usage.prompt_tokens += response.usage.prompt_tokens or 0
            usage.completion_tokens += response.usage.completion_tokens or 0
        if not response.choices:
            raise LLMReplyError("reply without choices")
        message = response.choices[0].message
        calls = list(message.tool_calls or [])
        if not calls:
            reply = (message.content or "").strip()
            if not reply:
                raise LLMNoReplyError("empty reply")
            return LLMTurn(reply=reply, effects=effects, usage=usage)

        results, errors = _run_calls(calls, context, now, effects, usage)
        if errors and corrected_once:
            raise LLMReplyError(f"invalid tool call after correction: {errors[0]}")
        corrected_once = corrected_once or bool(errors)
        if not errors and (message.content or "").strip():
            # Some servers send the reply alongside the calls; nothing is left to ask the model.
            return LLMTurn(reply=message.content.strip(), effects=effects, usage=usage)
        messages.append(_assistant_message(message.content, calls))
        messages.extend(results)
    raise LLMNoReplyError(f"no reply after {MAX_TOOL_ROUNDS} rounds of tool calls")


def _run_calls(
    calls: list[Any], context: TurnContext, now: datetime, effects: ToolEffects, usage: Usage
) -> tuple[list[dict[str, Any]], list[str]]:
    """Validate and apply each call; the tool messages to send back and the errors found."""
    results: list[dict[str, Any]] = []
    errors: list[str] = []
    for call in calls:
        name, raw_arguments = _name_and_arguments(call)
        record: dict[str, Any] = {"name": name, "arguments": _recorded_arguments(raw_arguments), "valid": False}
        try:
            valid = validate_call(name, parse_arguments(raw_arguments), profile=context.profile, now=now)
        except ToolCallError as exc:
            record["error"] = str(exc)
            errors.append(str(exc))
            content = f"ERRO: {exc}. Corrija a chamada e tente de novo."
            if exc.partial is not None:
                # The rest of the call was fine: keep it, even if the model never comes back to fix it.
                apply_call(effects, exc.partial)
                kept = ", ".join([*exc.partial.arguments["fields"], *exc.partial.arguments["declined"]])
                record["applied"] = kept
                content = f"ERRO: {exc}. Os outros campos ({kept}) foram registrados; reenvie só os corrigidos."
        else:
            apply_call(effects, valid)
            record["valid"] = True
            content = "ok"
        usage.tool_calls.append(record)
        results.append({"role": "tool", "tool_call_id": call.id, "content": content})
    return results, errors


def _name_and_arguments(call: Any) -> tuple[str, str]:
    function = getattr(call, "function", None)
    if function is None:  # a custom (non-function) tool call: not one of ours
        return getattr(getattr(call, "custom", None), "name", "") or "(custom)", ""
    return function.name, function.arguments


def _recorded_arguments(raw: str) -> Any:
    """The arguments as JSON for the run log when they parse, else the raw text, cut short."""
    raw = raw or ""
    if len(raw) > MAX_RECORDED_ARGUMENTS:
        return raw[:MAX_RECORDED_ARGUMENTS]
    try:
        return parse_arguments(raw)
    except ToolCallError:
        return raw


def _assistant_message(content: str | None, calls: list[Any]) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": content,
        "tool_calls": [
            {"id": call.id, "type": "function", "function": {"name": name, "arguments": arguments}}
            for call in calls
            for name, arguments in [_name_and_arguments(call)]
        ],
    }
