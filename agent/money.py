"""Money in Brazilian Portuguese free text, as a number of reais.

Understood: "R$ 1.500,00", "1500", "1.5k", "1,5 mil", "uns 2 mil", "2mil", "R$ 50 mil/mês",
"2 milhões", "dois mil reais", "quinhentos reais", "mil e quinhentos", "meio milhão", and ranges.

Ranges ("entre 5 e 10 mil", "de 5 a 10 mil", "5 a 10k", "R$ 5.000 - R$ 10.000") give their LOWER
bound: it is what the lead is sure to have, so a score never rests on money they may not spend.
A scale written only after the second number applies to the first as well ("5 e 10 mil").
"até 10 mil" and "acima de 20 mil" give the number they name.

A number counts as money only with a cue (R$, reais, a scale like "mil"/"k", or a budget word such
as "orçamento", "investir", "até", "uns") unless the caller says bare numbers are fine (the lead is
answering the budget question). Counts ("15 dias", "10 funcionários"), percentages, dates, times,
years, phone numbers and document numbers are never money.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.text import fold

Number = int | float

_UNITS = {
    "zero": 0, "um": 1, "uma": 1, "dois": 2, "duas": 2, "tres": 3, "quatro": 4, "cinco": 5, "seis": 6,
    "sete": 7, "oito": 8, "nove": 9, "dez": 10, "onze": 11, "doze": 12, "treze": 13, "catorze": 14,
    "quatorze": 14, "quinze": 15, "dezesseis": 16, "dezasseis": 16, "dezessete": 17, "dezoito": 18,
    "dezenove": 19, "vinte": 20, "trinta": 30, "quarenta": 40, "cinquenta": 50, "cincoenta": 50,
    "sessenta": 60, "setenta": 70, "oitenta": 80, "noventa": 90, "cem": 100, "cento": 100,
    "duzentos": 200, "duzentas": 200, "trezentos": 300, "trezentas": 300, "quatrocentos": 400,
    "quatrocentas": 400, "quinhentos": 500, "quinhentas": 500, "seiscentos": 600, "seiscentas": 600,
    "setecentos": 700, "setecentas": 700, "oitocentos": 800, "oitocentas": 800, "novecentos": 900,
    "novecentas": 900,
}  # fmt: skip
_SCALES = {"mil": 1_000, "milhao": 1_000_000, "milhoes": 1_000_000, "mi": 1_000_000, "k": 1_000}
_WORD_SCALES = {"mil": 1_000, "milhao": 1_000_000, "milhoes": 1_000_000}

_NUMBER = re.compile(
    # A slash ends an amount only when a period follows it ("5.000/mes"); "15/01" is a date.
    r"(?<![\w/.,:])(?P<currency>r\$\s*)?(?P<digits>\d+(?:[.,]\d+)*)(?![\d:])(?!/(?!\s*(?:mes|ano)\b))"
    r"(?:\s*(?P<scale>milhoes|milhao|mil|mi|k)(?![a-z]))?"
)
_WORD = re.compile(r"[a-z]+")
_CURRENCY_AFTER = re.compile(r"\s*(?:reais|real|conto|contos|pila|pilas)(?![a-z])")
_PER_PERIOD = re.compile(r"\s*(?:/|por|ao|a)\s*(?:mes|ano|mensal|anual)(?![a-z])")
# What follows a number that counts something other than money.
_NOT_MONEY_AFTER = re.compile(
    r"\s*(?:%|por\s*cento|x(?![a-z])|vezes|h(?![a-z])|hs(?![a-z])|hrs?(?![a-z])|horas?|min(?![a-z])|minutos?|"
    r"dias?|semanas?|mes(?:es)?(?![a-z])|anos?|funcionarios?|colaboradores?|pessoas?|usuarios?|licencas?|"
    r"lojas?|unidades?|filiais?|clientes?|alunos?|lugares?|vagas?|metros?|m2|m²|km|kg|litros?|kwh|kw(?![a-z])|"
    r"placas?|paineis|produtos?|itens|pecas?|caminhoes|carros?|veiculos?|leitos?|quartos?|andares|salas?|"
    r"mesas?|pedidos?|notas?|º|ª|°)"
)
_NOT_MONEY_BEFORE = re.compile(
    r"(?:\bdia|\bdias|\bas|\bnumero|\bn[º°o]?|\bcep|\bcpf|\bcnpj|\btel|\btelefone|\bwhats(?:app)?|\bramal|"
    r"\bapto|\bapartamento|\bsala|\blote|\bversao|\bnota)\s*:?\s*$"
)
_MONEY_CUE_BEFORE = re.compile(
    r"(?:orcamento|verba|budget|investir|investimento|gastar|gasto|pagar|pago|custear|disponivel|"
    r"\bate|\buns|\bumas|cerca\s+de|em\s+torno\s+de|por\s+volta\s+de|aproximadamente|mais\s+ou\s+menos|"
    r"\bentre|acima\s+de|mais\s+de|menos\s+de|a\s+partir\s+de|no\s+maximo|no\s+minimo|\btenho|\btemos|"
    r"\bvalor|faixa\s+de|teto\s+de|limite\s+de)\s*(?:(?:de|e|a|uns|umas|tipo)\s+)?$"
)
# "5 a 7 dias": the first number of a range of counts is a count too.
_COUNT_RANGE_AFTER = re.compile(r"\s*(?:a|e|ate|-|ou)\s*\d+(?:[.,]\d+)?" + _NOT_MONEY_AFTER.pattern)
_RANGE_JOIN = re.compile(r"^\s*(?:a|e|ate|-|\u2013|ou)\s*$")  # \u2013: an en dash, as phones type it
_YEAR_BEFORE = re.compile(r"(?:\bem|\bde|\bate|\bano|\bpara|\bpra|\bno)\s*$")
# Masked before reading numbers: a phone or a document number is never an amount.
_PHONE_OR_DOCUMENT = re.compile(
    r"(?:\+?55[\s-]*)?(?:\(?\d{2}\)?[\s-]*)?9\d{4}[\s-]?\d{4}(?!\d)"
    r"|\d{2}\.\d{3}\.\d{3}/\d{4}-\d{2}|\d{3}\.\d{3}\.\d{3}-\d{2}|\d{9,}"
)


@dataclass(frozen=True)
class MoneyMatch:
    value: Number
    start: int
    end: int
    cued: bool  # said with a currency, a scale or a budget word, not a bare number


@dataclass(frozen=True)
class _Amount:
    value: float
    start: int
    end: int
    scale: int  # the scale written with it ("mil" -> 1000), 1 when none
    cued: bool
    range_only: bool = False  # "cinco" is money only as the start of a range ("entre cinco e dez mil")


def find_money(text: str, *, bare_ok: bool = False) -> MoneyMatch | None:
    """The first amount of money in `text` (a range gives its lower bound), or None."""
    folded = _PHONE_OR_DOCUMENT.sub(lambda match: " " * len(match.group(0)), fold(text or ""))
    amounts = _digit_amounts(folded) + _word_amounts(folded)
    amounts.sort(key=lambda item: item.start)
    for index, amount in enumerate(amounts):
        following = amounts[index + 1] if index + 1 < len(amounts) else None
        if following is not None and _RANGE_JOIN.match(folded[amount.end : following.start]):
            if not (amount.cued or following.cued or bare_ok):
                continue
            low = amount.value
            if amount.scale == 1 and following.scale > 1 and low * following.scale <= following.value:
                low *= following.scale  # "entre 5 e 10 mil": the "mil" is for both
            return MoneyMatch(_tidy(min(low, following.value)), amount.start, following.end, True)
        if (amount.cued or bare_ok) and not amount.range_only:
            return MoneyMatch(_tidy(amount.value), amount.start, amount.end, amount.cued)
    return None


def parse_number(text: str) -> Number | None:
    """The first number in `text`, read the Brazilian way, whatever it counts ("somos 15" -> 15)."""
    match = _NUMBER.search(fold(text or ""))
    if not match:
        return None
    value = _parse_decimal(match.group("digits"))
    if value is None:
        return None
    if match.group("scale"):
        value *= _SCALES[match.group("scale")]
    return _tidy(value)


def parse_amount(text: str) -> Number | None:
    """An amount of money in `text`, bare numbers allowed ("R$ 1.500,00" -> 1500, "uns 2 mil" -> 2000)."""
    match = find_money(text, bare_ok=True)
    return match.value if match else None


def format_brl(value: Number) -> str:
    """1500 -> "R$ 1.500", 99.9 -> "R$ 99,90"."""
    if value == int(value):
        return "R$ " + f"{int(value):,}".replace(",", ".")
    return "R$ " + f"{value:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")


def _digit_amounts(folded: str) -> list[_Amount]:
    found = []
    for match in _NUMBER.finditer(folded):
        digits, scale_word = match.group("digits"), match.group("scale")
        before = folded[: match.start()]
        if not scale_word and (
            _NOT_MONEY_AFTER.match(folded, match.end()) or _COUNT_RANGE_AFTER.match(folded, match.end())
        ):
            continue
        if _NOT_MONEY_BEFORE.search(before):
            continue
        value = _parse_decimal(digits)
        if value is None:
            continue
        end = match.end()
        currency_after = _CURRENCY_AFTER.match(folded, end)
        if currency_after:
            end = currency_after.end()
        cued = bool(match.group("currency") or scale_word or currency_after or _MONEY_CUE_BEFORE.search(before))
        if not cued and 1900 <= value <= 2100 and digits.isdigit() and _YEAR_BEFORE.search(before):
            continue  # "em 2026" is a year
        scale = _SCALES[scale_word] if scale_word else 1
        period = _PER_PERIOD.match(folded, end)
        if period:
            end = period.end()
        found.append(_Amount(value * scale, match.start(), end, scale, cued))
    return found


def _word_amounts(folded: str) -> list[_Amount]:
    """Spelled-out amounts ("dois mil reais"); a lone "um"/"dois" is an article or a count, not money."""
    tokens = [(m.group(0), m.start(), m.end()) for m in _WORD.finditer(folded)]
    found = []
    index = 0
    while index < len(tokens):
        run = _number_run(tokens, index)
        if not run:
            index += 1
            continue
        words = [tokens[i][0] for i in run]
        start, end = tokens[run[0]][1], tokens[run[-1]][2]
        index = run[-1] + 1
        currency_after = _CURRENCY_AFTER.match(folded, end)
        has_big = any(word in _WORD_SCALES or _UNITS.get(word, 0) >= 100 for word in words)
        if not currency_after and _NOT_MONEY_AFTER.match(folded, end):
            continue
        if currency_after:
            end = currency_after.end()
        value = _words_value(words)
        if value:
            scale = _WORD_SCALES.get(words[-1], 1)
            range_only = not (has_big or currency_after)
            found.append(_Amount(value, start, end, scale, cued=not range_only, range_only=range_only))
    return found


def _number_run(tokens: list[tuple[str, int, int]], first: int) -> list[int]:
    """Indexes of the number words composing one number from `first` ("dois mil e quinhentos")."""
    if not _is_number_word(tokens[first][0]) or (tokens[first][0] == "meio" and first + 1 >= len(tokens)):
        return []
    run = [first]
    index = first + 1
    while index < len(tokens):
        word = tokens[index][0]
        if word == "e" and index + 1 < len(tokens) and _composes(tokens[run[-1]][0], tokens[index + 1][0]):
            run.append(index + 1)
            index += 2
        elif word != "e" and _is_number_word(word) and _adjacent(tokens[run[-1]][0], word):
            run.append(index)
            index += 1
        else:
            break
    return run


def _is_number_word(word: str) -> bool:
    return word in _UNITS or word in _WORD_SCALES or word == "meio"


def _composes(previous: str, following: str) -> bool:
    """Whether "previous e following" is one number ("vinte e cinco", "mil e quinhentos"), not a range."""
    if following == "meio":
        return previous in _WORD_SCALES
    if following not in _UNITS:
        return False
    before, after = _UNITS.get(previous), _UNITS[following]
    if previous in _WORD_SCALES:
        return after < 1000
    if before is None:
        return False
    if before >= 100:
        return after < 100
    return 20 <= before < 100 and before % 10 == 0 and after < 10


def _adjacent(previous: str, following: str) -> bool:
    """Whether two number words side by side are one number ("dois mil", "mil quinhentos")."""
    if following in _WORD_SCALES:
        return previous not in _WORD_SCALES or (previous == "mil" and following.startswith("milh"))
    return previous in _WORD_SCALES and following in _UNITS


def _words_value(words: list[str]) -> float | None:
    total, group, last_scale = 0.0, 0.0, 1
    for word in words:
        if word == "meio":
            if last_scale > 1 and total:
                total += last_scale / 2  # "dois milhões e meio"
            else:
                group += 0.5  # "meio milhão"
        elif word in _UNITS:
            group += _UNITS[word]
        else:
            scale = _WORD_SCALES[word]
            total += (group or 1) * scale
            group, last_scale = 0, scale
    value = total + group
    return value if value > 0 else None


def _parse_decimal(digits: str) -> float | None:
    """Read a number written the Brazilian way ("1.500,75") while tolerating "1,500.75" and "1.5"."""
    has_dot, has_comma = "." in digits, "," in digits
    if has_dot and has_comma:
        decimal_mark = "," if digits.rfind(",") > digits.rfind(".") else "."
        thousands_mark = "." if decimal_mark == "," else ","
        normalized = digits.replace(thousands_mark, "").replace(decimal_mark, ".")
    elif has_comma or has_dot:
        mark = "," if has_comma else "."
        # pt-BR: "1.500" and "1.500.000" are thousands; "1,5" is a decimal, and so is "1.5" from a keyboard.
        groups = digits.split(mark)
        is_thousands = len(groups) > 2 or len(groups[-1]) == 3
        normalized = digits.replace(mark, "") if is_thousands else digits.replace(mark, ".")
    else:
        normalized = digits
    try:
        return float(normalized)
    except ValueError:
        return None


def _tidy(value: float) -> Number:
    return int(value) if value == int(value) else round(value, 2)
