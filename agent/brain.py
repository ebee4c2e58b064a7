"""Entry point of the agent: one turn's context in, one decision out.

`decide` uses the LLM when one is configured and its circuit breaker lets the call through, and
the offline playbook otherwise. The playbook also reads every LLM turn first: a keyword opt-out
("SAIR") is confirmed without a model, as is a turn that only brought a file we could not read,
and unambiguous facts the model forgot to record (e-mail, CNPJ, amounts, dated deadlines) are
kept. Lead score and temperature come from `agent.scoring`, as on the playbook, and a hot lead
with every question answered is handed off even if the model forgot to. Whatever goes wrong on
the LLM side (server down, timeout, a tool call still invalid after one correction, a reply the
guard rails refuse), the customer gets an answer and the run says why:

- `run.fallback_used` — the bubbles did not come from the model;
- `run.breaker_open` — the model was not even asked, its breaker is open;
- `run.breaker_just_opened` — this turn's failure opened the breaker (one turn fleet-wide): the
  caller raises the operator alert (`conversations` does, on applying the decision);
- `run.error` — the failure and notable events (injection attempt, unpriced model), short and
  free of secrets; `run.flags` the same events as machine-readable tags.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import openai

from agent import guards, scoring
from agent.accounting import MAX_ERROR_LENGTH, join_errors, note, run_info
from agent.breaker import CircuitBreaker, breaker_for
from agent.context import LLMConfig, Profile, TurnContext
from agent.decision import FOLLOWUP, HANDOFF, OPT_OUT, QUOTE, Decision
from agent.fallback import (
    MENTIONS_PERSON,
    OPT_OUT_CONFIRMATION,
    customer_text,
    needs_opening_time,
    person_follows_up,
    playbook_fallback,
    safe_bubbles,
    with_bubble,
)
from agent.llm import (
    DEFAULT_MAX_RETRIES,
    LLMNoReplyError,
    LLMReplyError,
    LLMTurn,
    LLMTurnError,
    make_client,
    run_llm_turn,
)
from agent.playbook import run_playbook
from agent.prompt import fixed_instructions
from agent.text import MEDIA_PLACEHOLDER
from agent.tools import DEFAULT_TIME_ZONE, ToolEffects, is_deadline, recordable_fields

logger = logging.getLogger(__name__)

HOT_LEAD_REASON = "hot lead"
# A deadline the playbook resolved to a date: "2025-04-30 (mês que vem)".
_DATED = re.compile(r"^\d{4}-\d{2}-\d{2} \(")
# An opt-out reply that tells the customer the messages stop.
_CONFIRMS_OPT_OUT = re.compile(r"mensage|receber|contat|enviar|descadastr|\blista\b", re.IGNORECASE)


def decide(
    context: TurnContext,
    *,
    llm: LLMConfig,
    now: datetime | None = None,
    breaker: CircuitBreaker | None = None,
    client: openai.OpenAI | None = None,
) -> Decision:
    """Decide the next turn; `now`, `breaker` and `client` are for tests and callers that share them."""
    decision = _decide(context, llm=llm, now=now, breaker=breaker, client=client)
    decision.bubbles = within_bubble_limit(decision.bubbles, context.profile.max_bubbles)
    return decision


def within_bubble_limit(bubbles: list[str], limit: int) -> list[str]:
    """At most `limit` bubbles: the overflow joins the last one, which usually holds the question."""
    limit = max(1, limit)
    if len(bubbles) <= limit:
        return bubbles
    return [*bubbles[: limit - 1], "\n\n".join(bubbles[limit - 1 :])]


def _decide(
    context: TurnContext,
    *,
    llm: LLMConfig,
    now: datetime | None,
    breaker: CircuitBreaker | None,
    client: openai.OpenAI | None,
) -> Decision:
    if not llm.enabled or context.state.get("opted_out"):
        # An opted-out customer gets silence, which the playbook already knows how to keep.
        return run_playbook(context)
    reading = _playbook_reading(context)
    if reading is not None and OPT_OUT in reading.actions:
        # "SAIR", "não quero mais receber": a keyword opt-out is confirmed without asking a model.
        return reading
    if reading is not None and _only_unreadable_media(context):
        # A voice note we could not transcribe, and nothing else: there is nothing for a model to
        # understand; the customer hears the file could not be read and is asked to write.
        return reading
    injection = guards.detect_injection(customer_text(context))
    breaker = breaker or breaker_for(llm.base_url)
    admission = breaker.admit()
    if not admission.allowed:
        decision = playbook_fallback(context, error="LLM circuit breaker open", injection=injection)
        decision.run.breaker_open = True
        return decision

    now = now or turn_clock(context)
    try:
        turn = run_llm_turn(
            context,
            llm=llm,
            now=now,
            injection_kinds=tuple(injection),
            client=client or make_client(llm, max_retries=_setting("AGENT_MAX_RETRIES", DEFAULT_MAX_RETRIES)),
        )
    except LLMTurnError as exc:
        just_opened = breaker.record_failure(admission) if exc.is_outage else False
        if not exc.is_outage:
            breaker.record_success(admission)  # the server answered; only the answer was unusable
        error = describe_error(exc.cause)
        logger.warning("agent LLM failed, using playbook: %s", error)
        if isinstance(exc.cause, LLMNoReplyError) and _asked_for_something(exc.effects):
            # The model did the work but wrote nothing: keep its tool calls, the playbook speaks.
            no_reply = LLMTurn(reply="", effects=exc.effects, usage=exc.usage)
            return _llm_decision(context, no_reply, injection, now, reading, failure=error)
        decision = playbook_fallback(context, error=error, usage=exc.usage, injection=injection)
        if just_opened:
            decision.run.breaker_just_opened = True
            note(decision.run, "breaker_opened", "LLM circuit breaker opened")
        return decision
    breaker.record_success(admission)
    try:
        return _llm_decision(context, turn, injection, now, reading)
    except Exception as exc:  # a bug here must not leave the customer unanswered
        logger.exception("agent could not use the LLM reply")
        return playbook_fallback(context, error=describe_error(exc), usage=turn.usage, injection=injection)


def turn_clock(context: TurnContext) -> datetime:
    """The turn's time: its newest message's (so replays are deterministic, as in the playbook), else now."""
    times = [_aware(message.at) for message in (*context.history, *context.new_messages) if message.at is not None]
    return max(times) if times else datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


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


# --- The LLM's decision ----------------------------------------------------------------------


def _llm_decision(
    context: TurnContext,
    turn: LLMTurn,
    injection: list[str],
    now: datetime,
    reading: Decision | None,
    *,
    failure: str = "",
) -> Decision:
    """The decision from the model's tool calls and reply; without a reply (`failure`), the
    playbook's words carry the conversation on."""
    effects = turn.effects
    actions = _actions(effects)
    run = run_info(turn.usage)
    for kind in injection:
        note(run, f"injection:{kind}", f"injection attempt flagged ({kind})")
    backstop = _facts_the_model_missed(context, effects, reading)
    if backstop:
        effects.field_updates = {**backstop, **effects.field_updates}
        note(run, "backstop:" + ",".join(sorted(backstop)))
    known = {**context.lead_fields, **effects.field_updates}

    # Scored exactly as the playbook scores, on the turn's local day, so both paths agree.
    lead_score = scoring.score(context.profile, known, today=now.astimezone(DEFAULT_TIME_ZONE).date())
    temperature = scoring.temperature(context.profile, lead_score)
    added_handoff = _hot_lead_handoff(context, known, actions, effects, temperature)
    if added_handoff:
        note(run, "hot_lead_handoff")

    violations = [] if failure else guards.check_reply(turn.reply, _reply_policy(context.profile, known))
    if failure:
        run.fallback_used = True
        run.error = join_errors(failure, run.error)
        bubbles = _playbook_words(context, known, actions, effects.declined)
    elif violations:
        for violation in violations:
            note(run, f"guard:{violation.kind}")
        run.fallback_used = True
        run.error = join_errors("GuardRejected: " + "; ".join(str(v) for v in violations[:3]), run.error)
        bubbles = safe_bubbles(
            context,
            known,
            handing_off=HANDOFF in actions,
            prompt_leak=all(violation.kind == guards.LEAK for violation in violations),
        )
    else:
        bubbles = guards.split_bubbles(turn.reply)
        if added_handoff and not any(MENTIONS_PERSON.search(bubble) for bubble in bubbles):
            bubbles = with_bubble(bubbles, person_follows_up(context))
    if HANDOFF in actions and needs_opening_time(context, bubbles):
        # Outside business hours the customer must hear when a person will answer.
        bubbles = with_bubble(bubbles, person_follows_up(context))
    if OPT_OUT in actions:
        bubbles = [_opt_out_bubble(bubbles if not (failure or violations) else [])]

    return Decision(
        bubbles=bubbles,
        field_updates=dict(effects.field_updates),
        state=_state_after(context, known, actions, effects.declined),
        score=lead_score,
        temperature=temperature,
        stage=_stage(context, known, actions, effects.declined),
        actions=actions,
        handoff_reason=effects.handoff_reason or "",
        followup_at=effects.followup_at,
        quote_details=effects.quote_details or "",
        run=run,
    )


def _opt_out_bubble(bubbles: list[str]) -> str:
    """The one bubble sent after an opt-out (nothing follows it), so it must carry the confirmation.

    A model that split "Entendido.\n\nVocê não vai mais receber mensagens." would otherwise have
    only "Entendido." delivered.
    """
    joined = " ".join(bubble.strip() for bubble in bubbles if bubble.strip())
    if len(joined) > guards.MAX_BUBBLE_CHARS or not _CONFIRMS_OPT_OUT.search(joined):
        return OPT_OUT_CONFIRMATION
    return joined


def _playbook_reading(context: TurnContext) -> Decision | None:
    """What the deterministic playbook makes of this turn: an opt-out, and the facts it reads."""
    try:
        return run_playbook(context)
    except Exception:  # the model can still answer the turn
        logger.exception("agent playbook failed to read the turn")
        return None


def _only_unreadable_media(context: TurnContext) -> bool:
    customer = [message for message in context.new_messages if message.role == "customer"]
    return bool(customer) and all(
        message.media_failed and not MEDIA_PLACEHOLDER.sub("", message.text).strip() for message in customer
    )


def _facts_the_model_missed(context: TurnContext, effects: ToolEffects, reading: Decision | None) -> dict[str, Any]:
    """Unambiguous facts the playbook read that the model neither recorded nor declined.

    Models, small local ones especially, forget to call `update_lead`; an e-mail, a CNPJ, an
    amount or a dated deadline the customer plainly gave is then still recorded. Free text (a
    name, a company, a need) is left to the model's judgement: read leniently, "deixa eu pensar"
    could pass for a company.
    """
    if reading is None:
        return {}
    types = recordable_fields(context.profile)
    return {
        key: value
        for key, value in reading.field_updates.items()
        if key in types
        and key not in effects.field_updates
        and key not in effects.declined
        and not scoring.is_answered(context.lead_fields.get(key))
        and _unambiguous(key, types[key], value)
    }


def _unambiguous(key: str, field_type: str, value: Any) -> bool:
    if field_type in ("email", "cnpj"):
        return isinstance(value, str) and bool(value)
    if field_type in ("money", "number"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if is_deadline(key, field_type):
        return isinstance(value, str) and bool(_DATED.match(value))
    return False


def _hot_lead_handoff(
    context: TurnContext, known: dict[str, Any], actions: list[str], effects: ToolEffects, temperature: str
) -> bool:
    """Hand off a hot lead whose questions are all done, as the playbook does, if the model did not."""
    if HANDOFF in actions or OPT_OUT in actions or context.state.get("handed_off") or temperature != "hot":
        return False
    if _stage(context, known, actions, effects.declined) != "qualified":
        return False
    actions.append(HANDOFF)
    effects.handoff_reason = HOT_LEAD_REASON
    return True


def _playbook_words(context: TurnContext, known: dict[str, Any], actions: list[str], declined: list[str]) -> list[str]:
    """What to say after tool calls that came without text: the playbook's next words."""
    if OPT_OUT in actions:
        return [OPT_OUT_CONFIRMATION]
    if HANDOFF in actions:
        return [person_follows_up(context)]
    state = {**_state_after(context, known, actions, declined), "awaiting": None}
    # Nothing is awaited, so the playbook reads no answer: it only says what comes next.
    return run_playbook(replace(context, lead_fields=known, state=state)).bubbles


def _asked_for_something(effects: ToolEffects) -> bool:
    return bool(
        effects.field_updates
        or effects.handoff_reason is not None
        or effects.followup_at is not None
        or effects.quote_details is not None
        or effects.opt_out
    )


def _actions(effects: ToolEffects) -> list[str]:
    actions = []
    if effects.handoff_reason is not None:
        actions.append(HANDOFF)
    if effects.followup_at is not None:
        actions.append(FOLLOWUP)
    if effects.quote_details is not None:
        actions.append(QUOTE)
    if effects.opt_out:
        actions.append(OPT_OUT)
    return actions


def _stage(context: TurnContext, known: dict[str, Any], actions: list[str], declined: list[str]) -> str | None:
    """As the playbook stages a lead: declined questions count as done, a person's lead stays theirs."""
    if HANDOFF in actions:
        return "handed_off"
    if context.state.get("handed_off"):
        return None  # a person has it already; the bot never moves it back
    skipped = _skipped(context, declined)
    open_required = [
        field
        for field in scoring.unanswered_fields(context.profile, known)
        if field.required and field.key not in skipped
    ]
    return "qualifying" if open_required else "qualified"


def _skipped(context: TurnContext, declined: list[str]) -> list[str]:
    earlier = context.state.get("skipped")
    earlier = [key for key in earlier if isinstance(key, str)] if isinstance(earlier, list) else []
    return list(dict.fromkeys([*earlier, *declined]))


def _state_after(
    context: TurnContext, known: dict[str, Any], actions: list[str], declined: list[str]
) -> dict[str, Any]:
    """The agent's memory after an LLM turn, in the playbook's terms (agent.playbook docstring).

    Should the playbook take over, it knows the customer was greeted, which question is open, and
    not to hand off, request a quote or speak after an opt-out a second time.
    """
    state = dict(context.state)
    state["greeted"] = True
    skipped = _skipped(context, declined)
    if skipped:
        state["skipped"] = skipped
    open_fields = [field for field in scoring.unanswered_fields(context.profile, known) if field.key not in skipped]
    state["awaiting"] = open_fields[0].key if open_fields else None
    state.pop("reasked", None)
    if HANDOFF in actions:
        state["handed_off"] = True
    if QUOTE in actions:
        state["quote_requested"] = True
    if OPT_OUT in actions:
        state.update(opted_out=True, awaiting=None)
    return state


def _reply_policy(profile: Profile, known: dict[str, Any]) -> guards.ReplyPolicy:
    allowed_text = "\n".join(
        [profile.company_description, profile.offer_description, profile.allowed_prices, profile.system_prompt_extra]
    )
    email = known.get("email")
    return guards.ReplyPolicy(
        allowed_text=allowed_text,
        lead_emails=frozenset({email.lower()}) if isinstance(email, str) and email else frozenset(),
        lead_amounts=guards.amounts_of(known.values()),
        instructions=fixed_instructions(),
    )


def _setting(name: str, default: Any) -> Any:
    from django.conf import settings

    return getattr(settings, name, default) if settings.configured else default
