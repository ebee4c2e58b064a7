"""Turn a customer's free text into lead facts.

Two ways in:
- `read_message` finds what a message *volunteers*, whatever was asked: e-mail, CNPJ, city/UF, a
  self-introduced name, a company ("trabalho na X", "empresa X Ltda", "Carla da Acme"), a budget,
  a deadline and a need ("preciso de…"). Only clear statements count, so an answer to one question
  does not fill another by accident.
- `answer_for` reads the answer to the question just asked, more leniently ("Ana", "5000",
  "Padaria Pão Quente", "sexta").

Values recorded (JSON-friendly, as stored in the lead's fields):
    name      "Ana Paula"                 company  "Acme Ltda", "Autônomo", "Pessoa física"
    need      the customer's words        budget   a number of reais (int, or float with cents)
    timeline  "2025-02-28 (mês que vem)"  (see agent.dates), or the words when there is no date
    email     "ana@acme.com.br"           city     "Campinas/SP" (see agent.places)
    cnpj      "11.222.333/0001-81" (check digits verified)
    uf        "BA", only when a state is given without a city ("sou da Bahia")

Every extractor returns None when it finds nothing usable, so the caller re-asks instead of
recording noise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from agent import companies, dates, intents, money, names, places
from agent.cnpj import find_cnpj
from agent.context import QualificationField
from agent.text import (
    FILLER_WORDS,
    blank_spans,
    clauses,
    clip,
    fold,
    is_filler,
    squash,
    trim_edges,
    word_set,
    words_of,
)

MAX_TEXT_ANSWER = 300

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)

# Field kinds: how a field's answer is read. A profile field's `type` wins; a plain "text" field is
# read by what its key means ("timeline" is a deadline even when typed as text).
KINDS = frozenset({"name", "email", "money", "number", "date", "cnpj", "city", "company", "need", "text"})
_KIND_BY_KEY = {
    "name": "name", "nome": "name", "email": "email", "e_mail": "email", "budget": "money", "orcamento": "money",
    "verba": "money", "investimento": "money", "timeline": "date", "prazo": "date", "deadline": "date",
    "quando": "date", "company": "company", "empresa": "company", "need": "need", "necessidade": "need",
    "interesse": "need", "objetivo": "need", "city": "city", "cidade": "city", "cnpj": "cnpj",
}  # fmt: skip

# Words that label an answer rather than being one: "meu e-mail é …", "o CNPJ: …".
_LABELS = word_set("email mail nome cnpj cidade telefone whatsapp whats zap contato orcamento prazo valor")

_NEED_VERBS = re.compile(
    r"\b(?<!nao\s)(?:preciso|precisamos|precisava|precisavamos|quero|queremos|queria|queriamos|gostaria|gostariamos|"
    r"qro|qria|qeria|"
    r"procuro|procuramos|(?:estou|estamos|to|tamo)\s+(?:procurando|buscando|precisando|querendo)|busco|buscamos|"
    r"(?:tenho|temos)\s+interesse|meu\s+problema\s+(?:eh|e)|nossa\s+necessidade\s+(?:eh|e)|a\s+ideia\s+(?:eh|e)|"
    r"necessito|necessitamos|a\s+gente\s+(?:quer|precisa|procura|busca|(?:esta|ta)\s+(?:procurando|buscando|precisando)))\b"
)
# Objects that say nothing about the need: "quero saber mais", "gostaria de um orçamento".
_VAGUE_NEED = re.compile(
    r"^\s*(?:de\s+|em\s+|d\s+)?(?:saber|sabe|sabe[rn]?\s+mais|mais\s+informac\w*|informac\w*|info|conhecer|entender|tirar\s+(?:uma\s+)?duvida\w*|"
    r"falar|conversar|(?:um|uma|o|a)\s+(?:orcamento|proposta|cotacao|preco|valor)|orcamento|proposta|cotacao|preco|"
    r"valor\w*|ver|receber|ajuda|atendimento|contato|um\s+contato|retorno|isso|aquilo|algo|alguma\s+coisa|"
    r"mais|o\s+preco|os\s+precos|os\s+valores|que|nada|gastar|investir|pagar|um\s+desconto|desconto|"
    r"disso|disto|dessa|desse|daquilo|dele|dela|deles|delas|ele|ela|voces|vcs|como\s+funciona)\b"
)
_BUDGET_WORDS = re.compile(
    r"\b(?:orcamento|verba|budget|investir|investimento|gastar|gasto|pagar|pago|disponivel|disponibilidade|"
    r"bancar|dispomos|dispor)\b"
)
_MONEY_LEAD_IN = re.compile(
    r"(?:\b(?:ate|uns|umas|cerca\s+de|em\s+torno\s+de|por\s+volta\s+de|no\s+maximo|entre|"
    r"mais\s+ou\s+menos|aproximadamente|acima\s+de|mais\s+de|a\s+partir\s+de)\s*)$"
)


# Words that go with an amount said on its own ("na verdade são uns 20 mil por mês, no máximo").
_MONEY_TALK = word_set(
    "verdade sao seria seriam fica ficaria eh e acho creio tipo aprox aproximadamente cerca torno volta "
    "maximo minimo total mensal mensais mes ano anual reais real ate mais menos uns umas dá da consigo "
    "posso podemos conseguimos gira giraria tenho temos"
)

# "Nada específico" to "what are you looking for?" names no need.
_NO_NEED = re.compile(
    r"^\s*(?:(?:ainda|por\s+enquanto)\s+)?(?:nada|nenhum|nenhuma|nada\s+nao)(?:\s+(?:especifico|especial|em\s+especial|"
    r"definido|concreto|demais|de\s+mais|ainda|por\s+enquanto|mesmo))*\s*$"
)


@dataclass
class Reading:
    """What one message volunteered, by kind, and where in the message each fact was."""

    facts: dict[str, Any] = field(default_factory=dict)
    spans: list[tuple[int, int]] = field(default_factory=list)
    weak_deadline: dates.Deadline | None = None  # "amanhã", "sexta": only an answer to "para quando?"
    # A message that is only a known first name ("Wagner"): a name when nothing else was asked.
    weak_name: str | None = None

    def add(self, kind: str, value: Any, start: int, end: int) -> None:
        if value is None or value == "":
            return
        self.facts.setdefault(kind, value)
        self.spans.append((start, end))


def field_kind(qualification_field: QualificationField) -> str:
    """How a profile field's answer is read (see KINDS)."""
    if qualification_field.type in KINDS and qualification_field.type != "text":
        return qualification_field.type
    key = fold(qualification_field.key).replace("-", "_")
    return _KIND_BY_KEY.get(key, "text")


def read_message(text: str, today: date, *, price_talk: bool = False) -> Reading:
    """Facts a message volunteers (see the module docstring). `price_talk`: the message haggles or
    asks about prices, so an amount in it is a budget only next to a budget word."""
    original = text or ""
    reading = Reading()
    email = _EMAIL.search(original)
    if email:
        reading.add("email", email.group(0).rstrip(".").lower(), *email.span())
    cnpj = find_cnpj(original)
    if cnpj:
        reading.add("cnpj", cnpj.formatted, cnpj.start, cnpj.end)
    masked = blank_spans(original, reading.spans)

    introduced = names.find_introduced_name(masked) or names.leading_known_name(masked)
    if introduced:
        reading.add("name", introduced.name, introduced.start, introduced.end)
        company = companies.company_after_name(masked, introduced.end)
        if company:
            reading.add("company", *company)
    else:
        bare = names.bare_known_name(masked)
        reading.weak_name = bare.name if bare else None
    if "company" not in reading.facts:
        company_found = companies.find_company(masked)
        if company_found:
            reading.add("company", *company_found)
    place = places.find_place(blank_spans(masked, reading.spans))
    if place:
        if place.city:
            reading.add("city", place.city, place.phrase_start, place.end)
        if place.uf:
            reading.add("uf", place.uf, place.phrase_start, place.end)

    deadline = dates.find_deadline(blank_spans(masked, reading.spans), today)
    if deadline and not deadline.weak:
        reading.add("date", deadline.formatted(), deadline.start, deadline.end)
    elif deadline:
        reading.weak_deadline = deadline
    elif dates.no_urgency(original):
        reading.facts.setdefault("no_urgency", True)

    budget = _volunteered_money(blank_spans(masked, reading.spans), price_talk=price_talk)
    if budget:
        reading.add("money", budget.value, budget.start, budget.end)

    need = find_need(blank_spans(masked, reading.spans))
    if need:
        reading.add("need", *need)
    return reading


def answer_for(kind: str, messages: list[str], reading_spans: list[list[tuple[int, int]]], today: date) -> Any | None:
    """The answer to a question of `kind`, read leniently from the turn's answering messages.

    `reading_spans[i]` are the parts of `messages[i]` already taken by volunteered facts; they are
    not read again (an e-mail is not a company name).
    """
    for text, spans in zip(messages, reading_spans, strict=True):
        value = _answer_in(kind, text, spans, today)
        if value is not None:
            return value
    return None


def leftover(text: str, spans: list[tuple[int, int]]) -> list[str]:
    """The clauses of `text` that no volunteered fact used and that say something."""
    pieces = [trim_edges(piece) for piece in clauses(blank_spans(text, spans))]
    return [piece for piece in pieces if piece and not _says_nothing(piece)]


def _says_nothing(piece: str) -> bool:
    return all(word in FILLER_WORDS or word in _LABELS for word in words_of(fold(piece)))


def find_email(text: str) -> str | None:
    """The first e-mail address in `text`, lower-cased, or None."""
    match = _EMAIL.search(text or "")
    return match.group(0).rstrip(".").lower() if match else None


def find_need(text: str) -> tuple[str, int, int] | None:
    """A need stated with intent ("preciso de um ERP", "queremos automatizar o atendimento")."""
    original = text or ""
    folded = fold(original)
    for match in _NEED_VERBS.finditer(folded):
        clause_end = _clause_end(folded, match.end())
        object_text = folded[match.end() : clause_end]
        if not object_text.strip() or _VAGUE_NEED.match(object_text) or is_filler(object_text):
            continue
        value = trim_edges(original[match.start() : clause_end], leading=False)
        said = original[match.start() : clause_end].rstrip(" .,;:!?-")
        if re.search(r"\s(?:mais|menos)$", fold(said)):
            value = squash(said)  # "quero vender mais": the last word is the need, not a dangling connector
        if len(value.split()) < 2:
            continue
        return clip(value, MAX_TEXT_ANSWER), match.start(), clause_end
    return None


def extract_name(text: str) -> str | None:
    """A person's name from an answer like "meu nome é maria souza" -> "Maria Souza"."""
    return names.extract_name(text)


def parse_amount(text: str) -> money.Number | None:
    """The first amount in pt-BR free text: "R$ 1.500,00" -> 1500, "uns 2 mil" -> 2000, "10k" -> 10000."""
    return money.parse_amount(text)


def extract_value(field_type: str, text: str, *, today: date | None = None) -> Any | None:
    """The value for a field of `field_type` found in `text`, or None when there is none."""
    kind = field_type if field_type in KINDS else "text"
    return _answer_in(kind, text or "", [], today or dates.local_today(None))


def _answer_in(kind: str, text: str, spans: list[tuple[int, int]], today: date) -> Any | None:
    rest = leftover(text, spans)
    if kind == "name":
        # What a volunteered fact took ("moro em Curitiba") is no name.
        return names.extract_name(blank_spans(text, spans)) if rest else None
    if kind == "email":
        return find_email(text)
    if kind == "cnpj":
        found = find_cnpj(text)
        return found.formatted if found else None
    if kind == "money":
        if intents.does_not_know(text) and not re.search(r"\d", text):
            return None
        found = money.find_money(text, bare_ok=True)
        return found.value if found else None
    if kind == "number":
        return money.parse_number(text)
    if kind == "date":
        return _date_answer(text, rest, today)
    if kind == "city":
        place = places.place_from_answer(" ".join(rest))
        return (place.city or place.uf) if place else None
    if not rest or intents.does_not_know(text) or intents.declines(text):
        return None
    if kind == "company":
        # An amount or a deadline is never a company name ("na verdade são 20 mil").
        if money.find_money(rest[0]) or dates.find_deadline(rest[0], today):
            return None
        return companies.company_from_answer(rest[0])
    if kind == "need":
        answer = ", ".join(rest)
        if not _substantive(rest) or _NO_NEED.match(fold(answer)):
            return None
        return clip(answer, MAX_TEXT_ANSWER)
    return clip(", ".join(rest), MAX_TEXT_ANSWER)


def _date_answer(text: str, rest: list[str], today: date) -> str | None:
    found = dates.find_deadline(text, today)
    if found:
        return found.formatted()
    if dates.no_urgency(text):
        return squash(text).rstrip(".!")
    if not rest or intents.does_not_know(text) or intents.declines(text) or not _substantive(rest):
        return None
    return clip(", ".join(rest), MAX_TEXT_ANSWER)


def _substantive(rest: list[str]) -> bool:
    """More than a yes/no or a question back to us."""
    joined = " ".join(rest)
    return bool(joined) and not is_filler(joined) and not joined.strip().endswith("?")


def _volunteered_money(text: str, *, price_talk: bool) -> money.MoneyMatch | None:
    """An amount that is clearly the lead's budget: said next to a budget word, or said on its own
    ("uns 5 mil"); an amount inside another sentence ("conta de luz de R$ 800") is not."""
    found = money.find_money(text, bare_ok=False)
    if found is None:
        return None
    folded = fold(text)
    clause_start = max(folded.rfind(mark, 0, found.start) for mark in ".!?;\n,") + 1
    clause_end = _clause_end(folded, found.end)
    clause = folded[clause_start:clause_end]
    if _BUDGET_WORDS.search(clause):
        return found
    if price_talk:
        return None
    around = folded[clause_start : found.start] + " " + folded[found.end : clause_end]
    if all(word in FILLER_WORDS or word in _MONEY_TALK for word in words_of(around)):
        return found  # "uns 5 mil", "na verdade são 20 mil", "R$ 3.000 por mês no máximo"
    if _MONEY_LEAD_IN.search(folded[clause_start : found.start]):
        return found
    return None


def _clause_end(folded: str, position: int) -> int:
    match = re.compile(r"[.!?;\n]|,\s").search(folded, position)
    return match.start() if match else len(folded)
