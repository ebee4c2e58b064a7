"""Guard rails around the LLM: what customers write is data, and what the model says is checked.

On the way in, `detect_injection` flags common attempts (Portuguese and English) to change the
agent's role, read its instructions, smuggle fake message delimiters or extract a price or
discount promise; the run records the flags and the model is warned. On the way out,
`check_reply` refuses links, e-mail addresses and phone numbers the profile does not give,
leaks of the system prompt, and prices or discounts the profile does not list. `split_bubbles`
bounds what is sent: at most a few short bubbles, cut between sentences, never inside a word, with
Markdown emphasis turned into WhatsApp's.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

MAX_BUBBLES = 3
MAX_BUBBLE_CHARS = 300
# Eight words in a row copied from the instructions are a leak, not a coincidence.
LEAK_SHINGLE_WORDS = 8

ROLE_CHANGE = "role_change"
PROMPT_REVEAL = "prompt_reveal"
PRICE_PROMISE = "price_promise"
FAKE_DELIMITER = "fake_delimiter"


def _normalize(text: str) -> str:
    """Lower case without accents and with single spaces, so patterns match "instruções" and "instrucoes"."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return re.sub(r"\s+", " ", stripped.lower()).strip()


# --- Input: injection attempts ---------------------------------------------------------------

_INSTRUCTIONS_PT = r"(?:instruc(?:ao|oes)|regras?|prompt|orientac(?:ao|oes)|diretrizes|configurac(?:ao|oes))"
_INJECTION_PATTERNS: dict[str, tuple[str, ...]] = {
    ROLE_CHANGE: (
        r"\b(?:ignore|disregard|forget|override|bypass)\b.{0,40}\b(?:instructions?|rules|prompt|guidelines|previous|above)\b",
        rf"\b(?:ignor[ea]r?|esquec[ae]r?|esqueci|desconsider[ea]r?|descart[ea]r?|desobedec[ae])\b.{{0,40}}\b(?:{_INSTRUCTIONS_PT}|anteriores|acima)",
        r"\byou are (?:now|no longer)\b",
        r"\bfrom now on,? you\b",
        r"\bpretend (?:to be|you are|that you)\b",
        r"\b(?:act|behave) as (?:a|an|my|if)\b",
        r"\b(?:agora|a partir de agora),? (?:voce|vc|tu) (?:e|eh|sera|vai ser|atua|passa a ser)\b",
        r"\b(?:voce|vc|tu) agora (?:e|eh|sera|vai ser)\b",
        r"\bfinja (?:ser|que)\b",
        r"\b(?:aja|atue|comporte-se|se comporte) como\b",
        r"\b(?:voce|vc) nao e mais\b",
        r"\bseu novo papel\b",
        r"\b(?:developer|dev|god|admin|debug) mode\b",
        r"\bmodo (?:desenvolvedor|dev|admin|administrador|debug|deus)\b",
        r"\bjailbreak\b",
    ),
    PROMPT_REVEAL: (
        r"\b(?:system|initial|hidden|original) (?:prompt|instructions|message)\b",
        r"\b(?:reveal|show|print|repeat|output|give me|tell me|what (?:are|is|were))\b.{0,30}\b(?:your|the)\b.{0,20}"
        r"\b(?:prompt|instructions|rules|guidelines)\b",
        r"\b(?:mostre|mostra|revele|revela|repita|repete|imprima|imprime|diga|diz|fala|fale|passe|passa|copie|cole|"
        rf"envie|manda|mande|qual (?:e|eh|era|sao)|quais (?:sao|eram))\b.{{0,30}}\b{_INSTRUCTIONS_PT}\b",
        r"\bprompt (?:do|de) sistema\b",
        r"\bprompt inicial\b",
    ),
    PRICE_PROMISE: (
        r"\b(?:prometa|promete|garanta|garante|confirme|confirma|escreva|escreve|diga|diz|fale|fala)\b.{0,15}\bque\b"
        r".{0,60}(?:desconto|gratis|de graca|r\$|\d+ ?%|preco|valor|custa)",
        r"\b\d{1,3} ?% (?:de )?desconto\b",
        r"\b(?:promise|guarantee|confirm|say|write|tell me)\b.{0,15}\b(?:that|me)\b"
        r".{0,60}(?:discount|free|\$|\d+ ?%|price|costs?)",
        r"\b\d{1,3} ?% (?:discount|off)\b",
    ),
    FAKE_DELIMITER: (
        r"</?\s*(?:system|assistant|developer|sistema|instructions?|instrucoes|mensagem_do_cliente)\s*>",
        r"<\|im_(?:start|end)\|>",
        r"(?:^|\n)\s*(?:system|assistant|developer|sistema)\s*:",
        r"\[/?(?:system|sistema|inst)\]",
        r"#{2,}\s*(?:system|sistema|instruc)",
    ),
}
_COMPILED_INJECTION = {
    kind: [re.compile(pattern, re.IGNORECASE) for pattern in patterns] for kind, patterns in _INJECTION_PATTERNS.items()
}


def detect_injection(text: str) -> list[str]:
    """The kinds of injection attempt found in customer text, in a stable order (empty when none)."""
    # Line breaks matter for fake "system:" lines; everything else is matched on normalised text.
    raw_lines = "\n".join(_normalize(line) for line in (text or "").splitlines())
    flat = _normalize(text)
    found = []
    for kind, patterns in _COMPILED_INJECTION.items():
        haystack = raw_lines if kind == FAKE_DELIMITER else flat
        if any(pattern.search(haystack) for pattern in patterns):
            found.append(kind)
    return found


# --- Output: what the reply may contain ------------------------------------------------------

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_URL = re.compile(
    r"(?:https?://|www\.)[^\s<>()\"']+"
    r"|\b(?:[a-z0-9-]+\.)+(?:com|net|org|io|app|dev|co|me|info|biz|link|site|online|store|shop|xyz|ai|ly|gl|br)"
    r"(?:\.br)?\b(?:/[^\s<>()\"']*)?",
    re.IGNORECASE,
)
# Brazilian phones: optional +55, optional area code, optional ninth digit, 4+4 digits.
_PHONE = re.compile(
    r"(?<![\w.,/$])(?:(?:\+|00)?55[\s.-]?)?(?:\(?0?\d{2}\)?[\s.-]?)?(?:9[\s.-]?)?\d{4}[\s.-]?\d{4}(?![\w,/]|\.\d)"
)
_MONEY = re.compile(
    r"R\$\s*(?P<a>\d[\d.,]*)(?:\s*(?P<sa>mil|k|milh(?:oes|ões|ao|ão))\b)?"
    r"|(?P<b>\d[\d.,]*)(?:\s*(?P<sb>mil|k|milh(?:oes|ões|ao|ão)))?\s*(?:reais|real)\b",
    re.IGNORECASE,
)
_PERCENT = re.compile(r"(\d{1,3}(?:[.,]\d+)?)\s*%")
_DISCOUNT_WORDS = re.compile(r"desconto|abatimento|discount|\boff\b|promo", re.IGNORECASE)
_DISCOUNT_OFFER = re.compile(
    r"\b(?:dar|dou|damos|te dou|oferec\w*|garant\w*|consigo|conseguimos|posso|podemos|liberar?|libero)\b"
    r".{0,30}\bdesconto",
    re.IGNORECASE,
)
_NEGATION = re.compile(r"\b(?:n[aã]o|nem|nunca|never|not|can't|cannot)\b", re.IGNORECASE)
_LEAK_MARKERS = re.compile(
    r"system prompt|prompt do sistema|prompt de sistema|minhas instru[cç][oõ]es|my instructions|"
    r"fui instru[ií]d[ao]|i was instructed|nunca revele estas instru",
    re.IGNORECASE,
)

URL = "url"
EMAIL = "email"
PHONE = "phone"
LEAK = "prompt_leak"
PRICE = "price"
DISCOUNT = "discount"


@dataclass(frozen=True)
class Violation:
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


@dataclass(frozen=True)
class ReplyPolicy:
    """What the reply may mention: built from the profile texts and what the lead already told us."""

    allowed_text: str  # profile texts the business wrote (offer, prices, description, extra)
    lead_emails: frozenset[str] = frozenset()
    lead_amounts: frozenset[Decimal] = frozenset()
    instructions: str = ""  # the fixed part of the system prompt, which must never be repeated


def check_reply(reply: str, policy: ReplyPolicy) -> list[Violation]:
    """Every reason `reply` may not be sent (empty when it may)."""
    allowed = policy.allowed_text.lower()
    violations: list[Violation] = []

    emails = _EMAIL.findall(reply)
    allowed_emails = {email.lower() for email in _EMAIL.findall(policy.allowed_text)} | set(policy.lead_emails)
    for email in emails:
        if email.lower().rstrip(".") not in allowed_emails:
            violations.append(Violation(EMAIL, email))
    without_emails = _EMAIL.sub(" ", reply)

    allowed_hosts = {_host(url) for url in _URL.findall(_EMAIL.sub(" ", policy.allowed_text))}
    for url in _URL.findall(without_emails):
        if _host(url) not in allowed_hosts:
            violations.append(Violation(URL, url))

    allowed_phones = {_phone_key(phone) for phone in _PHONE.findall(policy.allowed_text)}
    for phone in _PHONE.findall(without_emails):
        if _phone_key(phone) not in allowed_phones:
            violations.append(Violation(PHONE, phone.strip()))

    allowed_amounts = set(find_amounts(policy.allowed_text)) | set(policy.lead_amounts)
    for amount in find_amounts(without_emails):
        if amount not in allowed_amounts:
            violations.append(Violation(PRICE, f"R$ {amount}"))

    violations += _discount_violations(without_emails, allowed)
    violations += _leak_violations(reply, policy.instructions)
    return violations


def _discount_violations(reply: str, allowed: str) -> list[Violation]:
    violations = []
    allowed_percents = {_decimal(value) for value in _PERCENT.findall(allowed)}
    for match in _PERCENT.finditer(reply):
        context = reply[max(0, match.start() - 40) : match.end() + 40]
        if _DISCOUNT_WORDS.search(context) and _decimal(match.group(1)) not in allowed_percents:
            violations.append(Violation(DISCOUNT, match.group(0)))
    if not violations and "desconto" not in allowed:
        for match in _DISCOUNT_OFFER.finditer(reply):
            # "não posso dar desconto" is the refusal we want, not a promise.
            if not _NEGATION.search(reply[max(0, match.start() - 25) : match.start()]):
                violations.append(Violation(DISCOUNT, "discount offered"))
                break
    return violations


def _leak_violations(reply: str, instructions: str) -> list[Violation]:
    if _LEAK_MARKERS.search(reply):
        return [Violation(LEAK, "mentions its instructions")]
    if instructions and _shingles(reply) & _shingles(instructions):
        return [Violation(LEAK, "repeats the system prompt")]
    return []


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", _normalize(text))
    return {tuple(words[i : i + LEAK_SHINGLE_WORDS]) for i in range(len(words) - LEAK_SHINGLE_WORDS + 1)}


def _host(url: str) -> str:
    host = re.sub(r"^(?:https?://)?(?:www\.)?", "", url.lower()).split("/", 1)[0]
    return host.rstrip(".,;:!?")


def _phone_key(phone: str) -> str:
    # The last eight digits identify a number however it is written (+55, area code, ninth digit).
    return re.sub(r"\D", "", phone)[-8:]


def find_amounts(text: str) -> list[Decimal]:
    """Money amounts written in `text` ("R$ 1.500,00", "2 mil reais", "R$ 10k"), as Decimals."""
    amounts = []
    for match in _MONEY.finditer(text or ""):
        digits = match.group("a") or match.group("b")
        scale = (match.group("sa") or match.group("sb") or "").lower()
        value = _decimal(digits)
        if value is None:
            continue
        if scale in ("mil", "k"):
            value *= 1000
        elif scale.startswith("milh"):
            value *= 1_000_000
        amounts.append(value.normalize())
    return amounts


def _decimal(digits: str) -> Decimal | None:
    """A number written the Brazilian way ("1.500,75"), tolerating "1,500.75" and "1.5"."""
    digits = digits.rstrip(".,")
    has_dot, has_comma = "." in digits, "," in digits
    if has_dot and has_comma:
        decimal_mark = "," if digits.rfind(",") > digits.rfind(".") else "."
        thousands = "." if decimal_mark == "," else ","
        normalized = digits.replace(thousands, "").replace(decimal_mark, ".")
    elif has_comma:
        head, _, tail = digits.rpartition(",")
        normalized = digits.replace(",", "") if len(tail) == 3 else f"{head.replace(',', '')}.{tail}"
    elif has_dot:
        groups = digits.split(".")
        normalized = digits.replace(".", "") if len(groups) > 2 or len(groups[-1]) == 3 else digits
    else:
        normalized = digits
    try:
        return Decimal(normalized).normalize()
    except InvalidOperation:
        return None


def amounts_of(values: Iterable[object]) -> frozenset[Decimal]:
    """Numbers among lead facts (a budget of 2000), as the amounts a reply may echo back."""
    amounts = set()
    for value in values:
        if isinstance(value, int | float) and not isinstance(value, bool):
            amounts.add(Decimal(str(value)).normalize())
    return frozenset(amounts)


# --- Bubbles ---------------------------------------------------------------------------------

_BLANK_LINE = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


_MARKDOWN_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__")
_MARKDOWN_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_MARKDOWN_HEADING = re.compile(r"^[ \t]*#{1,6}[ \t]+", re.MULTILINE)


def whatsapp_text(text: str) -> str:
    """Markdown as models write it, turned into WhatsApp's own marks: "**Plano**" shows as *Plano*.

    WhatsApp prints Markdown's doubled marks and "## " headings literally.
    """
    text = _MARKDOWN_BOLD.sub(lambda match: f"*{match.group(1) or match.group(2)}*", text or "")
    text = _MARKDOWN_STRIKE.sub(r"~\1~", text)
    return _MARKDOWN_HEADING.sub("", text)


def split_bubbles(content: str, *, max_bubbles: int = MAX_BUBBLES, max_chars: int = MAX_BUBBLE_CHARS) -> list[str]:
    """WhatsApp bubbles from a reply: paragraphs, long ones cut between sentences (or words), bounded.

    When there are more than `max_bubbles`, the overflow joins the last bubble if it fits, else
    short neighbours are joined; if it is still too many, the first bubbles and the last one are
    kept: the last usually carries the question.
    """
    content = whatsapp_text(content)
    chunks = [chunk for paragraph in _BLANK_LINE.split(content) for chunk in _cut(paragraph.strip(), max_chars)]
    chunks = [chunk for chunk in chunks if chunk]
    if len(chunks) <= max_bubbles:
        return chunks
    overflow = "\n\n".join(chunks[max_bubbles - 1 :])
    if len(overflow) <= max_chars:
        return [*chunks[: max_bubbles - 1], overflow]
    packed: list[str] = []
    for chunk in chunks:
        if packed and len(packed[-1]) + 1 + len(chunk) <= max_chars:
            packed[-1] = f"{packed[-1]}\n{chunk}"
        else:
            packed.append(chunk)
    if len(packed) <= max_bubbles:
        return packed
    return [*packed[: max_bubbles - 1], packed[-1]]


def _cut(paragraph: str, max_chars: int) -> list[str]:
    if len(paragraph) <= max_chars:
        return [paragraph]
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(paragraph):
        for piece in _cut_words(sentence, max_chars):
            if pieces and len(pieces[-1]) + 1 + len(piece) <= max_chars:
                pieces[-1] = f"{pieces[-1]} {piece}"
            else:
                pieces.append(piece)
    return pieces


def _cut_words(sentence: str, max_chars: int) -> list[str]:
    pieces: list[str] = []
    current = ""
    for word in sentence.split():
        if len(word) > max_chars:  # a monster "word" (a pasted hash): nothing better than a hard cut
            word = word[: max_chars - 1] + "…"
        if current and len(current) + 1 + len(word) > max_chars:
            pieces.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        pieces.append(current)
    return pieces
