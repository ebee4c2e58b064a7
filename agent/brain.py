"""Entry point of the agent: one turn's context in, one decision out."""

from __future__ import annotations

import logging

import openai

from agent.context import LLMConfig, TurnContext
from agent.decision import Decision
from agent.llm import LLMReplyError, run_llm
from agent.playbook import run_playbook

logger = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 200


def decide(context: TurnContext, *, llm: LLMConfig) -> Decision:
    """Use the LLM when configured, else the offline playbook; an LLM failure falls back to it."""
    if not llm.enabled:
        return run_playbook(context)
    try:
        return run_llm(context, llm=llm)
    except Exception as exc:
        error = describe_error(exc)
        logger.warning("agent LLM failed, using playbook: %s", error)
        decision = run_playbook(context)
        decision.run.fallback_used = True
        decision.run.error = error
        return decision


def describe_error(exc: BaseException) -> str:
    """A short, secret-free description of an LLM failure for the run log.

    SDK messages can echo response bodies, so only our own errors keep their message.
    """
    name = type(exc).__name__
    if isinstance(exc, openai.APIStatusError):
        description = f"{name}: HTTP {exc.status_code}"
    elif isinstance(exc, LLMReplyError):
        description = f"{name}: {exc}"
    else:
        description = name
    return description[:MAX_ERROR_LENGTH]
