"""The offline playbook: a deterministic qualification script that needs no LLM.

One turn answers every new customer message at once (a burst, a transcribed voice note, a photo's
description). In order of precedence:

1. Opt-out ("SAIR", "não quero mais receber", see agent.optout): one confirmation, action
   OPT_OUT, and silence in every later turn.
2. Facts volunteered anywhere in the turn are recorded (agent.extraction): name, company, need,
   budget, deadline, e-mail, city/UF, CNPJ; an answered question is never asked again.
3. A request for a person hands off at once (reason "customer asked for a human"; "pode me ligar?"
   adds ": a phone call"); outside business hours the bubble says when someone will answer
   (`context.next_opening`).
4. "me chama amanhã" / "agora não posso" schedule a follow-up (action FOLLOWUP) instead of a question;
   "não tenho interesse" (and nothing else) gets a polite close instead of the next question.
5. Otherwise the turn reacts (media it could not read, a prompt-injection attempt, a price or a
   proposal question (action QUOTE), "você é um robô?") and goes on with the script: the awaited
   question's answer is read leniently; a missing answer is re-asked once in other words, then
   skipped; a declined one ("prefiro não dizer") is skipped at once. When the customer talks about
   something else instead, the question is repeated once, then introduced once more, then skipped.
   Skipped questions are left for the human.
6. When no required question is left: a hot lead is handed off (reason "hot lead", plus "; still to
   ask: budget, …" when questions were skipped); a warm or cold one gets a closing message and stays
   with the bot, until a plain "sim" takes up the closing's offer of a person (a handoff).

Stage: "qualifying" while a required question is open, "qualified" once none is (answered or
skipped), "handed_off" on a handoff, and left alone (None) once a person has had the lead. Score
and temperature come from agent.scoring on the turn's day (the newest message's date in Brazil).

Never more than MAX_BUBBLES bubbles of at most MAX_BUBBLE_CHARS characters. It is the fallback
whenever the LLM is off or failing, so it must never raise on odd input (odd state included).

State kept between turns (all optional, missing keys mean "not yet"):
    greeted          the greeting was sent
    awaiting         key of the question the customer is answering now (None when none is open)
    reasked          key of the question already asked a second time
    repeated         key of the question asked again because the customer talked about something else
    skipped          keys given up on (declined, or unanswered twice); a human will ask them
    handed_off       a handoff was requested (hot lead or the customer asked for a person)
    completed        every question is done and the closing message was sent (warm/cold lead)
    quote_requested  the QUOTE action was already sent
    opted_out        the customer opted out; nothing more is said
    not_interested   the customer said no to the offer ("não tenho interesse"); courtesies get courtesies
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time, timedelta
from typing import Any

from agent import dates, intents, phrases, scoring
from agent.context import Profile, QualificationField, TurnContext
from agent.decision import FOLLOWUP, HANDOFF, OPT_OUT, QUOTE, Decision, RunInfo
from agent.extraction import Reading, answer_for, field_kind, read_message
from agent.money import format_brl
from agent.names import clean_push_name, first_name
from agent.optout import is_opt_out
from agent.playbook_io import (
    MAX_BUBBLE_CHARS,
    MAX_BUBBLES,
    CustomerMessage,
    clean_state,
    customer_messages,
    fit_bubbles,
    is_first_turn,
    turn_clock,
)
from agent.text import clip, fold, squash

PLAYBOOK_MODEL = "playbook"
__all__ = ["MAX_BUBBLES", "MAX_BUBBLE_CHARS", "PLAYBOOK_MODEL", "run_playbook"]
MAX_QUOTE_DETAILS = 500
HUMAN_REQUEST_REASON = "customer asked for a human"
CALL_REQUEST_REASON = "customer asked for a human: a phone call"
HOT_LEAD_REASON = "hot lead"
FOLLOWUP_HOUR = time(10, 0)
FOLLOWUP_LATER_HOURS = 3
# Facts recorded under their own key whatever the profile asks, because sales always wants them.
ALWAYS_RECORDED = {"name": "name", "company": "company", "email": "email", "city": "city", "cnpj": "cnpj"}


def run_playbook(context: TurnContext) -> Decision:
    """Decide the next turn of the qualification script."""
    state = clean_state(context.state)
    messages = customer_messages(context.new_messages)
    if state.get("opted_out"):
        return Decision(state=state, run=RunInfo(model=PLAYBOOK_MODEL))
    if any(is_opt_out(message.text) for message in messages):
        state.update(opted_out=True, awaiting=None)
        state.pop("reasked", None)
        return Decision(
            bubbles=[phrases.OPT_OUT_CONFIRM], state=state, actions=[OPT_OUT], run=RunInfo(model=PLAYBOOK_MODEL)
        )
    return _Turn(context, state, messages).decide()


class _Turn:
    """One turn of the script: the state it starts from and what it builds."""

    def __init__(self, context: TurnContext, state: dict[str, Any], messages: list[CustomerMessage]) -> None:
        self.context = context
        self.profile = context.profile
        self.state = state
        self.messages = messages
        self.now = turn_clock(context)
        self.today = self.now.date()
        self.was_handed_off = bool(state.get("handed_off"))
        self.first_turn = is_first_turn(context, state)
        self.updates: dict[str, Any] = {}
        self.small_talk = ""  # "tudo ótimo por aqui" to a "tudo bem?"
        self.ack = ""  # the bubble acknowledging what was recorded this turn
        self.reactions: list[str] = []
        self.actions: list[str] = []
        self.decision = Decision(run=RunInfo(model=PLAYBOOK_MODEL))
        # Messages that may carry answers: an injection attempt is data we do not act on.
        self.usable = [message for message in messages if message.text and not message.injection]

    # -- the turn -------------------------------------------------------------------------------

    def decide(self) -> Decision:
        readings = self._record_volunteered_facts()
        if any(intents.asks_for_human(message.text) for message in self.usable):
            if any(intents.asks_for_a_call(message.text) for message in self.usable):
                return self._hand_off(CALL_REQUEST_REASON, [self._call_request_bubble()])
            return self._hand_off(HUMAN_REQUEST_REASON, [self._human_request_bubble()])
        if self._accepts_a_person():
            return self._hand_off(HUMAN_REQUEST_REASON, [self._human_request_bubble()])
        later = next((message for message in self.usable if intents.wants_later(message.text)), None)
        if later is not None:
            return self._follow_up(later)
        if self._not_interested():
            return self._close_not_interested()
        if self.state.pop("not_interested", None) and self._only_small_talk():
            # "ok, obrigada" after saying no: a courtesy back, not the script again.
            thanked = any(intents.thanks(message.text) for message in self.usable)
            self.state["not_interested"] = True
            return self._finish([phrases.THANKS_REPLY] if thanked else [])
        self._react()
        question_bubbles = self._continue_script(readings)
        return self._finish(question_bubbles)

    def _record_volunteered_facts(self) -> list[Reading]:
        readings = []
        merged: dict[str, Any] = {}
        for message in self.usable:
            reading = read_message(message.text, self.today, price_talk=intents.asks_price(message.text))
            if intents.wants_later(message.text):
                reading.facts.pop("date", None)  # "me chama semana que vem" is not the project's deadline
            if "need" in reading.facts and (self._known_kind("need") or intents.asks_for_human(message.text)):
                # A need is fuzzy: the first clear one stands, and "quero um atendente" is no need at all.
                reading.facts.pop("need")
            readings.append(reading)
            merged.update(reading.facts)  # a later message corrects an earlier one
        weak_name = next((reading.weak_name for reading in readings if reading.weak_name), None)
        if weak_name and "name" not in merged and self.first_turn and not self._known_kind("name"):
            merged["name"] = weak_name  # "Wagner" on its own, before any question was asked
        taken: set[str] = set()
        for field in self.profile.fields:
            kind = field_kind(field)
            if kind in merged and kind not in taken:
                self.updates[field.key] = merged[kind]
                taken.add(kind)
        for kind, key in ALWAYS_RECORDED.items():
            if kind in merged and kind not in taken:
                self.updates[key] = merged[kind]
        if "uf" in merged and "city" not in merged and not self._known("city"):
            self.updates["uf"] = merged["uf"]
        # Repeating what we already know is not news; only changes are updates.
        for key in [key for key, value in self.updates.items() if self.context.lead_fields.get(key) == value]:
            del self.updates[key]
        return readings

    def _react(self) -> None:
        """Bubbles answering what the customer did besides answering (never more questions)."""
        failed = [message.failed_media for message in self.messages if message.failed_media]
        if failed:
            self.reactions.append(phrases.MEDIA_FAILED.get(failed[0], phrases.MEDIA_FAILED_GENERIC))
        if any(message.injection for message in self.messages):
            self.reactions.append(phrases.INJECTION_REFUSAL)
        texts = [message.text for message in self.usable]
        if any(intents.asks_quote(text) for text in texts):
            self._request_quote(next(text for text in texts if intents.asks_quote(text)))
        elif any(intents.asks_price(text) for text in texts):
            prices = squash(self.profile.allowed_prices).rstrip(".")
            if prices:
                self.reactions.append(phrases.PRICE_WITH_ALLOWED.format(prices=clip(prices, 200)))
            else:
                self.reactions.append(phrases.PRICE_WITHOUT_ALLOWED)
        if any(intents.asks_if_bot(text) for text in texts):
            self.reactions.append(phrases.IS_BOT_REPLY.format(company=self.profile.company_name))
        elif any(intents.asks_who(text) for text in texts):
            if not self.first_turn:  # the greeting already said who writes
                self.reactions.append(phrases.IS_BOT_REPLY.format(company=self.profile.company_name))
        elif not self.reactions and any(_open_question(text) for text in texts):
            self.reactions.append(phrases.QUESTION_FOR_HUMAN)
        awaited = self._field(self.state.get("awaiting"))
        if any(intents.is_browsing(text) for text in texts) and (awaited is None or field_kind(awaited) != "need"):
            # "só estou olhando" answers only "what are you looking for?"; anywhere else it is a remark.
            self.reactions.append(phrases.BROWSING_REPLY)
        if not self.first_turn and not self.reactions and any(intents.asks_how_are_you(text) for text in texts):
            self.small_talk = phrases.HOW_ARE_YOU_REPLY

    def _continue_script(self, readings: list[Reading]) -> list[str]:
        """The awaited answer, then the next question (or the end of the script)."""
        awaited = self._field(self.state.get("awaiting"))
        if awaited is not None and not self._known(awaited.key):
            bubbles = self._read_awaited(awaited, readings)
            if bubbles is not None:
                return bubbles
        elif self._news():
            self.ack = self._acknowledgement()
        return self._next_step()

    def _read_awaited(self, awaited: QualificationField, readings: list[Reading]) -> list[str] | None:
        """Bubbles that keep the awaited question open, or None to move on to the next step."""
        kind = field_kind(awaited)
        answering = [
            (message, reading)
            for message, reading in zip(self.usable, readings, strict=True)
            if not _is_aside(message.text) and (kind == "need" or not intents.is_browsing(message.text))
        ]
        value = answer_for(
            kind,
            [message.text for message, _ in answering],
            [reading.spans for _, reading in answering],
            self.today,
        )
        if value is not None:
            self.updates[awaited.key] = value
        if self._known(awaited.key):
            self.state.pop("reasked", None)
            self.state.pop("repeated", None)
            self.ack = self._acknowledgement()
            return None
        texts = [message.text for message, _ in answering]
        if any(intents.declines(text) for text in texts):
            self._skip(awaited)
            self.reactions.append(phrases.DECLINED)
            return None
        if self._news():
            self.ack = self._acknowledgement()
        if self.reactions or self.small_talk or self._news():
            # The customer engaged with something else: ask again, without counting it as a re-ask
            # the first time; the same question three times in a row would read like a broken record.
            failed_only = any(message.failed_media for message in self.messages) and not self.usable
            if failed_only:
                return []
            if self.state.get("repeated") != awaited.key:
                self.state["repeated"] = awaited.key
                return [awaited.question]
            if self.state.get("reasked") != awaited.key:
                self.state["reasked"] = awaited.key
                return [phrases.STILL_OPEN, awaited.question]
            self._skip(awaited)
            return None
        if self.state.get("reasked") != awaited.key:
            self.state["reasked"] = awaited.key
            return [_reask(awaited)]
        self._skip(awaited)
        self.reactions.append(phrases.SKIP_AFTER_REASK)
        return None

    def _next_step(self) -> list[str]:
        known = self._known_fields()
        next_field = _next_question(self.profile, known, self.state.get("skipped", []))
        if next_field is not None:
            self.state["awaiting"] = next_field.key
            # The greeting already says a name given on the first turn: the questions still need their intro.
            only_name = set(self.updates) <= {self._name_key() or "name"}
            intro = [phrases.INTRO] if self.first_turn and only_name and not self.reactions else []
            return [*intro, next_field.question]
        self.state["awaiting"] = None
        self.state.pop("reasked", None)
        # "vamos seguir" promises a next question; at the end of the script there is none.
        self.reactions = [reaction for reaction in self.reactions if reaction != phrases.SKIP_AFTER_REASK]
        lead_score = scoring.score(self.profile, known, today=self.today)
        is_hot = scoring.temperature(self.profile, lead_score) == "hot"
        if self.was_handed_off:
            # Back with the bot after a person had it: nothing new to ask, a person follows up.
            self.reactions = [reaction for reaction in self.reactions if reaction != phrases.QUESTION_FOR_HUMAN]
            self.ack = ""
            return [] if self._only_small_talk() else [phrases.ALREADY_HANDED_OFF]
        if is_hot:
            self.ack = ""  # the thanks acknowledges the last answer itself
            return self._hot_handoff(known)
        if not self.state.get("completed"):
            self.state["completed"] = True
            self.ack = ""
            return [self._thanks(known), phrases.CLOSING]
        if self._only_small_talk():
            thanked = any(intents.thanks(message.text) for message in self.usable)
            return [phrases.THANKS_REPLY] if thanked and not self.reactions else []
        self.ack = ""
        return [] if self.reactions and not self._news() else [phrases.ALREADY_DONE]

    # -- actions --------------------------------------------------------------------------------

    def _hand_off(self, reason: str, bubbles: list[str]) -> Decision:
        self.state.update(handed_off=True, awaiting=None)
        self.state.pop("reasked", None)
        self.actions.append(HANDOFF)
        self.decision.handoff_reason = reason
        return self._finish(bubbles, handing_off=True)

    def _hot_handoff(self, known: Mapping[str, Any]) -> list[str]:
        self.state["handed_off"] = True
        self.actions.append(HANDOFF)
        skipped = self.state.get("skipped", [])
        self.decision.handoff_reason = HOT_LEAD_REASON + (f"; still to ask: {', '.join(skipped)}" if skipped else "")
        company = self.profile.company_name
        if self.context.business_open:
            closing = phrases.HANDOFF.format(company=company)
        else:
            closing = phrases.HANDOFF_CLOSED.format(company=company, when=self._next_opening())
        return [self._thanks(known), closing]

    def _accepts_a_person(self) -> bool:
        """ "sim" after the closing offered a person ("se quiser falar com uma pessoa, é só me dizer")."""
        return (
            bool(self.state.get("completed"))
            and not self.was_handed_off
            and bool(self.usable)
            and all(intents.affirms(message.text) for message in self.usable)
        )

    def _not_interested(self) -> bool:
        """A polite no to the offer, with nothing else said (facts or a question mean the talk goes on)."""
        return (
            not self._news()
            and any(intents.not_interested(message.text) for message in self.usable)
            and not any(intents.is_question(message.text) for message in self.usable)
        )

    def _close_not_interested(self) -> Decision:
        self.state.update(awaiting=None, not_interested=True)
        self.state.pop("reasked", None)
        self.state.pop("repeated", None)
        return self._finish([phrases.NOT_INTERESTED_REPLY])

    def _follow_up(self, message: CustomerMessage) -> Decision:
        found = dates.find_deadline(message.text, self.today)
        folded = fold(message.text)
        if found is not None and found.date > self.today and "mais tarde" not in folded:
            when_text = found.phrase
            self.decision.followup_at = datetime.combine(found.date, FOLLOWUP_HOUR, tzinfo=dates.BRAZIL)
        elif "depois" in folded and "mais tarde" not in folded and "hoje" not in folded:
            when_text = "amanhã"
            self.decision.followup_at = datetime.combine(
                self.today + timedelta(days=1), FOLLOWUP_HOUR, tzinfo=dates.BRAZIL
            )
        else:
            when_text = phrases.FOLLOWUP_LATER
            self.decision.followup_at = self.now + timedelta(hours=FOLLOWUP_LATER_HOURS)
        self.actions.append(FOLLOWUP)
        return self._finish([phrases.FOLLOWUP_ACK.format(when=when_text)])

    def _request_quote(self, text: str) -> None:
        if self.state.get("quote_requested"):
            self.reactions.append(phrases.QUOTE_ALREADY)
            return
        self.state["quote_requested"] = True
        self.actions.append(QUOTE)
        known = self._known_fields()
        facts = "; ".join(
            f"{field.key}: {_describe(known[field.key])}"
            for field in self.profile.fields
            if scoring.is_answered(known.get(field.key))
        )
        details = f'asked: "{squash(text)}"' + (f"; {facts}" if facts else "")
        self.decision.quote_details = clip(details, MAX_QUOTE_DETAILS)
        self.reactions.append(phrases.QUOTE_ACK)

    # -- the decision ---------------------------------------------------------------------------

    def _finish(self, move: list[str], *, handing_off: bool = False) -> Decision:
        bubbles: list[str] = []
        if self.first_turn:
            self.state["greeted"] = True
            bubbles.append(self._greeting())
        if handing_off and self._news():
            self.ack = self._acknowledgement()
        bubbles += [self.small_talk, self.ack, *self.reactions, *move]
        known = self._known_fields()
        lead_score = scoring.score(self.profile, known, today=self.today)
        decision = self.decision
        decision.bubbles = fit_bubbles(bubbles)
        decision.field_updates = self.updates
        decision.state = self.state
        decision.score = lead_score
        decision.temperature = scoring.temperature(self.profile, lead_score)
        decision.stage = self._stage(known)
        decision.actions = list(dict.fromkeys(self.actions))
        return decision

    def _stage(self, known: Mapping[str, Any]) -> str | None:
        if HANDOFF in self.actions:
            return "handed_off"
        if self.was_handed_off:
            return None  # a person has it already; the bot never moves it back
        skipped = self.state.get("skipped", [])
        open_required = [
            field
            for field in scoring.unanswered_fields(self.profile, known)
            if field.required and field.key not in skipped
        ]
        return "qualifying" if open_required else "qualified"

    # -- wording --------------------------------------------------------------------------------

    def _greeting(self) -> str:
        name = first_name(str(self.updates.get(self._name_key() or "name", ""))) or first_name(
            clean_push_name(self.context.push_name)
        )
        company = self.profile.company_name
        if name:
            return phrases.GREETING_WITH_NAME.format(name=name, company=company)
        return phrases.GREETING_WITHOUT_NAME.format(company=company)

    def _acknowledgement(self) -> str:
        name_key = self._name_key() or "name"
        profile_keys = [field.key for field in self.profile.fields if field.key in self.updates]
        name = first_name(str(self.updates[name_key])) if name_key in self.updates else ""
        others = [key for key in profile_keys if key != name_key]
        if name and self.first_turn:
            if not others and set(self.updates) <= {name_key}:
                return ""  # the greeting already said it, and the intro follows
            name = ""
        if name:
            return phrases.NAME_AND_MORE_ACK.format(name=name) if others else phrases.NAME_ACK.format(name=name)
        if len(others) > 1:
            return phrases.SEVERAL_ACK
        if others:
            position = next(index for index, field in enumerate(self.profile.fields) if field.key == others[0])
            return phrases.ACKS[position % len(phrases.ACKS)]
        extras = [phrases.EXTRA_NAMES[key] for key in self.updates if key in phrases.EXTRA_NAMES]
        if extras:
            return phrases.EXTRA_ACK.format(what=" e ".join(extras[:2]))
        return phrases.ACKS[0]

    def _thanks(self, known: Mapping[str, Any]) -> str:
        name_key = self._name_key() or "name"
        name = first_name(str(known.get(name_key) or "")) or first_name(clean_push_name(self.context.push_name))
        return phrases.THANKS_WITH_NAME.format(name=name) if name else phrases.THANKS_WITHOUT_NAME

    def _human_request_bubble(self) -> str:
        if self.context.business_open:
            return phrases.HUMAN_REQUEST_OPEN
        return phrases.HUMAN_REQUEST_CLOSED.format(when=self._next_opening())

    def _call_request_bubble(self) -> str:
        if self.context.business_open:
            return phrases.CALL_REQUEST_OPEN
        return phrases.CALL_REQUEST_CLOSED.format(when=self._next_opening())

    def _next_opening(self) -> str:
        return squash(self.context.next_opening) or phrases.WHEN_OPEN_AGAIN

    # -- helpers --------------------------------------------------------------------------------

    def _known_fields(self) -> dict[str, Any]:
        return {**self.context.lead_fields, **self.updates}

    def _known(self, key: str) -> bool:
        return scoring.is_answered(self._known_fields().get(key))

    def _known_kind(self, kind: str) -> bool:
        return any(field_kind(field) == kind and self._known(field.key) for field in self.profile.fields)

    def _news(self) -> bool:
        return bool(self.updates)

    def _field(self, key: Any) -> QualificationField | None:
        return next((field for field in self.profile.fields if field.key == key), None)

    def _name_key(self) -> str | None:
        return next((field.key for field in self.profile.fields if field_kind(field) == "name"), None)

    def _skip(self, field: QualificationField) -> None:
        self.state.pop("reasked", None)
        self.state.pop("repeated", None)
        skipped = self.state.get("skipped", [])
        if field.key not in skipped:
            self.state["skipped"] = [*skipped, field.key]

    def _only_small_talk(self) -> bool:
        return not self._news() and all(intents.is_small_talk(message.text) for message in self.usable)


def _next_question(profile: Profile, known: Mapping[str, Any], skipped: list[str]) -> QualificationField | None:
    """The first open question, as long as a required one is still open.

    Optional questions are asked on the way, but never delay the end of the script on their own.
    """
    open_fields = [field for field in scoring.unanswered_fields(profile, known) if field.key not in skipped]
    if not any(field.required for field in open_fields):
        return None
    return open_fields[0]


def _reask(field: QualificationField) -> str:
    reworded = phrases.REASK_BY_KIND.get(field_kind(field))
    return reworded or phrases.REASK_GENERIC.format(question=field.question)


def _is_aside(text: str) -> bool:
    """Messages about something else than the question asked: they answer nothing."""
    return (
        intents.asks_who(text)
        or intents.asks_price(text)
        or intents.asks_quote(text)
        or intents.asks_if_bot(text)
        or intents.wants_later(text)
        or _open_question(text)
    )


def _open_question(text: str) -> bool:
    """A question to us that the playbook cannot answer ("vocês atendem em Curitiba?")."""
    return (
        intents.is_question(text)
        and not intents.asks_how_are_you(text)
        and not intents.asks_price(text)
        and not intents.asks_quote(text)
        and not intents.asks_if_bot(text)
        and not intents.asks_who(text)
        and not intents.is_small_talk(text)
    )


def _describe(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return format_brl(value)
    return clip(str(value), 120)
