"""The offline playbook: a deterministic qualification script that needs no LLM.

It greets, asks the profile's questions in order, reads each answer by field type and hands the
lead to a human once every required question is answered. It is the fallback whenever the LLM
is off or failing, so it must never raise on odd input.

State kept between turns (all optional, missing keys mean "not yet"):
    greeted     the greeting was sent
    awaiting    key of the question the customer is answering now
    reasked     key of the question already asked a second time
    skipped     keys given up on after a failed re-ask; a human will ask them
    handed_off  the handoff was already requested
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent import phrases, scoring
from agent.context import ChatMessage, Profile, QualificationField, TurnContext
from agent.decision import Decision, RunInfo
from agent.extraction import extract_name, extract_value, find_email

PLAYBOOK_MODEL = "playbook"


def run_playbook(context: TurnContext) -> Decision:
    """Decide the next turn of the qualification script."""
    state = dict(context.state)
    updates: dict[str, Any] = {}

    # An e-mail is worth keeping whatever was asked: it is how sales reaches the lead later.
    email = find_email(_customer_text(context.new_messages))
    if email:
        updates["email"] = email

    first_turn = _is_first_turn(context, state)
    if first_turn:
        state["greeted"] = True
        bubbles = [_greeting(context)]
    else:
        bubbles, still_waiting = _read_answer(context, state, updates)
        if still_waiting:
            # The same question was re-asked: nothing else to say this turn.
            return _decision(context, state, updates, bubbles)

    known = {**context.lead_fields, **updates}
    next_field = _next_question(context.profile, known, state.get("skipped", []))
    actions: list[str] = []
    if next_field is not None:
        if first_turn:
            bubbles.append(phrases.INTRO)
        bubbles.append(next_field.question)
        state["awaiting"] = next_field.key
    else:
        state["awaiting"] = None
        if state.get("handed_off"):
            bubbles = [phrases.ALREADY_HANDED_OFF]
        else:
            # The thanks acknowledges the last answer itself; an extra "Perfeito!" would stutter.
            greeting = bubbles if first_turn else []
            bubbles = [*greeting, *_closing(context, known)]
            state["handed_off"] = True
            actions.append("handoff")
    return _decision(context, state, updates, bubbles, actions=actions)


def _read_answer(context: TurnContext, state: dict[str, Any], updates: dict[str, Any]) -> tuple[list[str], bool]:
    """Record the answer to the awaited question.

    Returns the bubbles reacting to it and whether the question stays open (it was re-asked).
    A failed extraction is re-asked once with other words; a second failure skips the question so
    the customer is never stuck in a loop.
    """
    field = _field_by_key(context.profile, state.get("awaiting"))
    if field is None:
        return [], False
    value = extract_value(field.type, _customer_text(context.new_messages))
    if value is not None:
        updates[field.key] = value
        state.pop("reasked", None)
        return [_acknowledgement(context.profile, field, value)], False
    if state.get("reasked") != field.key:
        state["reasked"] = field.key
        return [_reask(field)], True
    state.pop("reasked", None)
    state["skipped"] = [*state.get("skipped", []), field.key]
    return [phrases.SKIP_AFTER_REASK], False


def _next_question(profile: Profile, known: Mapping[str, Any], skipped: list[str]) -> QualificationField | None:
    """The first open question, as long as a required one is still open.

    Optional questions are asked on the way, but never delay the handoff on their own.
    """
    open_fields = [field for field in scoring.unanswered_fields(profile, known) if field.key not in skipped]
    if not any(field.required for field in open_fields):
        return None
    return open_fields[0]


def _decision(
    context: TurnContext,
    state: dict[str, Any],
    updates: dict[str, Any],
    bubbles: list[str],
    *,
    actions: list[str] | None = None,
) -> Decision:
    profile = context.profile
    known = {**context.lead_fields, **updates}
    lead_score = scoring.score(profile, known)
    required_done = all(scoring.is_answered(known.get(field.key)) for field in profile.fields if field.required)
    return Decision(
        bubbles=bubbles,
        field_updates=updates,
        state=state,
        score=lead_score,
        temperature=scoring.temperature(profile, lead_score),
        stage="qualified" if required_done else "qualifying",
        actions=actions or [],
        run=RunInfo(model=PLAYBOOK_MODEL),
    )


def _is_first_turn(context: TurnContext, state: Mapping[str, Any]) -> bool:
    # History counts too: after an LLM turn fell back here, the customer was already greeted.
    already_spoke = any(message.role != "customer" for message in context.history)
    return not state.get("greeted") and not already_spoke


def _greeting(context: TurnContext) -> str:
    name = _first_name(context.push_name)
    company = context.profile.company_name
    if name:
        return phrases.GREETING_WITH_NAME.format(name=name, company=company)
    return phrases.GREETING_WITHOUT_NAME.format(company=company)


def _acknowledgement(profile: Profile, field: QualificationField, value: Any) -> str:
    if field.type == "name":
        return phrases.NAME_ACK.format(name=_first_name(str(value)))
    position = profile.fields.index(field)
    return phrases.ACKS[position % len(phrases.ACKS)]


def _reask(field: QualificationField) -> str:
    reworded = phrases.REASK_BY_TYPE.get(field.type)
    return reworded or phrases.REASK_GENERIC.format(question=field.question)


def _closing(context: TurnContext, known: Mapping[str, Any]) -> list[str]:
    name = _lead_first_name(context, known)
    thanks = phrases.THANKS_WITH_NAME.format(name=name) if name else phrases.THANKS_WITHOUT_NAME
    return [thanks, phrases.HANDOFF.format(company=context.profile.company_name)]


def _lead_first_name(context: TurnContext, known: Mapping[str, Any]) -> str:
    """The name the lead gave us, else their WhatsApp push name."""
    name_keys = [field.key for field in context.profile.fields if field.type == "name"] + ["name"]
    for key in name_keys:
        if scoring.is_answered(known.get(key)):
            return _first_name(str(known[key]))
    return _first_name(context.push_name)


def _first_name(text: str) -> str:
    # Push names carry emoji and surnames; a greeting wants just "Maria".
    name = extract_name(text or "")
    return name.split()[0] if name else ""


def _field_by_key(profile: Profile, key: str | None) -> QualificationField | None:
    return next((field for field in profile.fields if field.key == key), None)


def _customer_text(messages: tuple[ChatMessage, ...]) -> str:
    return " ".join(message.text.strip() for message in messages if message.role == "customer" and message.text)
