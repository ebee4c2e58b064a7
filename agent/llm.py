"""The LLM path: ask an OpenAI-compatible server for the next reply.

Any failure raises, so the brain can fall back to the playbook; this module never hides errors.
"""

from __future__ import annotations

import re
import time

from openai import OpenAI

from agent.context import LLMConfig, TurnContext
from agent.decision import Decision, RunInfo
from agent.prompt import build_chat_messages

MAX_BUBBLES = 3
SDK_MAX_RETRIES = 1
_BLANK_LINE = re.compile(r"\n\s*\n")


class LLMReplyError(Exception):
    """The server answered, but with nothing we can send to the customer."""


def run_llm(context: TurnContext, *, llm: LLMConfig) -> Decision:
    """One LLM turn: bubbles and accounting; lead fields and state are left as they are."""
    # A profile may pin its own model; the config's model is the deployment default.
    model = context.profile.model or llm.model
    client = OpenAI(
        api_key=llm.api_key,
        base_url=llm.base_url or None,
        timeout=llm.timeout_seconds,
        max_retries=SDK_MAX_RETRIES,
    )
    started = time.monotonic()
    response = client.chat.completions.create(model=model, messages=build_chat_messages(context))
    latency_ms = round((time.monotonic() - started) * 1000)

    if not response.choices:
        raise LLMReplyError("reply without choices")
    bubbles = split_bubbles(response.choices[0].message.content or "")
    if not bubbles:
        raise LLMReplyError("empty reply")

    usage = response.usage
    return Decision(
        bubbles=bubbles,
        # Tool calling (recording answers, scoring) comes later; until then the state is kept as is.
        state=dict(context.state),
        run=RunInfo(
            model=model,
            prompt_tokens=(usage.prompt_tokens or 0) if usage else 0,
            completion_tokens=(usage.completion_tokens or 0) if usage else 0,
            latency_ms=latency_ms,
        ),
    )


def split_bubbles(content: str) -> list[str]:
    """Split a reply into WhatsApp bubbles on blank lines; overflow joins the last bubble.

    Merging instead of dropping keeps the end of the reply, which is usually the question.
    """
    parts = [part.strip() for part in _BLANK_LINE.split(content)]
    parts = [part for part in parts if part]
    if len(parts) <= MAX_BUBBLES:
        return parts
    return [*parts[: MAX_BUBBLES - 1], "\n\n".join(parts[MAX_BUBBLES - 1 :])]
