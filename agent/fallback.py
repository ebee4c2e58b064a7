"""What the customer hears when the model's answer cannot be used, and the playbook fallback.

Every bubble here is customer-facing, in Brazilian Portuguese. When the playbook answers instead
of the model (LLM failing or its breaker open), a customer who needs a person is told that one
will follow up, and when, outside business hours.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from agent import guards, phrases, scoring
from agent.accounting import join_errors, note, run_info
from agent.context import TurnContext
from agent.decision import HANDOFF, Decision
from agent.llm import Usage
from agent.playbook import run_playbook

SAFE_REFUSAL = (
    "Desculpe, sobre isso não consigo te responder por aqui. Preços, condições e detalhes específicos "
    "são confirmados por um especialista do nosso time."
)
PERSON_FOLLOWS_UP = "Uma pessoa do nosso time vai continuar o atendimento com você em breve."
PERSON_FOLLOWS_UP_AT = "Uma pessoa do nosso time vai continuar o atendimento com você {when}."
ANYTHING_ELSE = "Posso te ajudar com mais alguma coisa?"
# One wording of the opt-out confirmation, whichever path confirms it.
OPT_OUT_CONFIRMATION = phrases.OPT_OUT_CONFIRM

ASKS_FOR_PERSON = re.compile(
    r"\b(?:falar|conversar|atendimento|atender)\b.{0,25}\b(?:humano|humana|pessoa|atendente|vendedor|vendedora|"
    r"consultor|consultora|gente de verdade|alguem|alguém)\b"
    r"|\b(?:talk|speak)\b.{0,20}\b(?:human|person|agent|someone|representative)\b",
    re.IGNORECASE,
)
MENTIONS_PERSON = re.compile(r"especialista|pessoa|consultor|atendente|vendedor|nosso time|nossa equipe", re.I)
PERSON_REQUEST_REASON = "customer asked for a person while the LLM was unavailable"


def playbook_fallback(
    context: TurnContext, *, error: str, usage: Usage | None = None, injection: list[str] | None = None
) -> Decision:
    """The playbook's decision, marked as a fallback, telling the customer when a person follows up."""
    decision = run_playbook(context)
    if usage is not None and usage.completions:
        # The model was reached before the turn failed: keep what it consumed on the books.
        decision.run = run_info(usage)
    elif usage is not None:
        # No answer came back, but the customer waited for it (timeouts and retries): that is the latency.
        decision.run.latency_ms = usage.latency_ms
    decision.run.fallback_used = True
    decision.run.error = join_errors(error, decision.run.error)
    for kind in injection or ():
        note(decision.run, f"injection:{kind}", f"injection attempt flagged ({kind})")
    if HANDOFF not in decision.actions and ASKS_FOR_PERSON.search(customer_text(context)):
        # Only a person can judge what the customer needs now; a customer asking for one gets one.
        decision.actions.append(HANDOFF)
        decision.handoff_reason = PERSON_REQUEST_REASON
        decision.stage = "handed_off"
        decision.state["handed_off"] = True
        decision.bubbles = [person_follows_up(context)]
    elif HANDOFF in decision.actions and needs_opening_time(context, decision.bubbles):
        decision.bubbles = with_bubble(decision.bubbles, person_follows_up(context))
    return decision


def safe_bubbles(
    context: TurnContext, known: Mapping[str, Any], *, handing_off: bool, prompt_leak: bool = False
) -> list[str]:
    """What to say instead of a refused reply: a polite refusal, then the conversation goes on.

    A reply refused for repeating the instructions gets a refusal about them, not about prices.
    """
    refusal = phrases.INJECTION_REFUSAL if prompt_leak else SAFE_REFUSAL
    if handing_off:
        return [refusal, person_follows_up(context)]
    open_fields = scoring.unanswered_fields(context.profile, known)
    return [refusal, open_fields[0].question if open_fields else ANYTHING_ELSE]


def needs_opening_time(context: TurnContext, bubbles: list[str]) -> bool:
    """Closed now, and no bubble says yet when the team is back."""
    if context.business_open or not context.next_opening:
        return False
    return not any(context.next_opening in bubble for bubble in bubbles)


def person_follows_up(context: TurnContext) -> str:
    if not context.business_open and context.next_opening:
        return PERSON_FOLLOWS_UP_AT.format(when=context.next_opening)
    return PERSON_FOLLOWS_UP


def with_bubble(bubbles: list[str], extra: str) -> list[str]:
    # The bubble bound holds: the new bubble replaces the last one rather than making one too many.
    return [*bubbles[: guards.MAX_BUBBLES - 1], extra]


def customer_text(context: TurnContext) -> str:
    """What the customer said this turn, media included, as one text."""
    return "\n".join(
        " ".join(filter(None, [message.text, message.media_text]))
        for message in context.new_messages
        if message.role == "customer"
    )
