"""Company names in free text: "trabalho na Acme", "minha empresa é a Vila Verde", "empresa Pão
Quente Ltda", "Carla da Acme", "sou do financeiro da Beta", and bare answers ("Padaria Pão Quente").

A name is kept as written, except that one typed all in lower case is title-cased ("padaria pão
quente" -> "Padaria Pão Quente"). People without a company are recorded as "Autônomo" (autônomo,
freelancer, MEI) or "Pessoa física" (pessoa física, "é pra minha casa", "não tenho empresa").
A known city or state after "sou da/do" is a place, not a company ("sou da Bahia").
"""

from __future__ import annotations

import re

from agent import places
from agent.text import fold, is_filler, squash, trim_edges, word_set

_COMPANY_WORDS = r"[\w&'.-]+(?:\s+[\w&'.-]+){0,5}"
# A department inside a company ("do RH", "de TI", "do setor de compras").
_DEPARTMENT = (
    r"(?:setor\s+|departamento\s+|area\s+|time\s+|equipe\s+)?(?:de\s+|do\s+|da\s+)?(?:financeiro|comercial|rh|"
    r"recursos\s+humanos|ti|marketing|compras|vendas|juridico|administrativo|administracao|logistica|suporte|"
    r"diretoria|operacoes|atendimento|ecommerce|e-commerce|producao|expedicao|faturamento|contabilidade)"
)
_COMPANY_PATTERNS = [
    re.compile(r"\b(?:trabalho|trabalhamos|atuo)\s+(?:na|no|numa|num|em|pra|para|pela|pelo)\s+(?:a\s+|o\s+)?"
               r"(?:empresa\s+)?(?P<c>" + _COMPANY_WORDS + ")"),
    re.compile(r"\b(?:minha|nossa|a)\s+empresa\s+(?:eh|e|se\s+chama|chama|chama-se|:)\s+(?:a\s+|o\s+)?(?P<c>"
               + _COMPANY_WORDS + ")"),
    re.compile(r"\b(?:empresa|razao\s+social|nome\s+fantasia)\s*:\s*(?P<c>" + _COMPANY_WORDS + ")"),
    re.compile(r"\b(?:sou|somos|falo|falamos|aqui\s+(?:eh|e))\s+(?:da|do)\s+(?:empresa\s+)?(?P<c>"
               + _COMPANY_WORDS + ")"),
    re.compile(r"\b(?:dono|dona|socio|socia|proprietari[oa]|gerente|diretor|diretora|ceo|fundador|fundadora|"
               r"coordenador|coordenadora|supervisor|supervisora|analista|head)\s+"
               r"(?:(?:de|do|da)\s+" + _DEPARTMENT + r"\s+)?(?:da|do)\s+(?:empresa\s+)?(?P<c>" + _COMPANY_WORDS + ")"),
    re.compile(r"\brepresento\s+(?:a|o)\s+(?:empresa\s+)?(?P<c>" + _COMPANY_WORDS + ")"),
    re.compile(r"\bempresa\s+(?P<c>(?!de\b|do\b|da\b|que\b|e\b|eh\b|pequena|grande|media)" + _COMPANY_WORDS + ")"),
    re.compile(r"\b(?:sou|trabalho|falo|atuo)\s+(?:do|no|na|da)\s+(?:setor\s+|departamento\s+|area\s+)?(?:de\s+)?"
               r"(?:financeiro|comercial|rh|ti|marketing|compras|vendas|juridico|\w+)\s+(?:da|do)\s+(?:empresa\s+)?"
               r"(?P<c>" + _COMPANY_WORDS + ")"),
    # A message that is only the company, after a name sent on its own ("sou o Pedro", "da Construtora Alfa").
    re.compile(r"^\s*(?:e\s+)?(?:da|do)\s+(?:empresa\s+)?(?P<c>" + _COMPANY_WORDS + r")\s*[.!]*\s*$"),
]  # fmt: skip
# Legal-form suffixes, as companies write them ("Pão Quente Ltda", "Acme ME", "Beta S/A").
_LEGAL_SUFFIX = re.compile(r"\s(?:(?i:ltda|eireli|epp)|ME|MEI|S/A|S\.A\.|SA)\b\.?")
# A name followed by its company: "Carla da Acme", "João, da Acme", "Léo 😎 da Barbearia Navalha", and
# through a department: "Patrícia do RH da Construtora Horizonte", "Ana, do setor de compras da Beta".
_COMPANY_AFTER_NAME = re.compile(
    rf"[^\w.;:!?\n]*?(?:(?:da|do|de)\s+{_DEPARTMENT}\s*,?\s+)?(?:da|do)\s+(?:empresa\s+)?(?P<c>{_COMPANY_WORDS})"
)
_COMPANY_STOP = word_set(
    "e mas que em aqui onde com para pra porque pois estou sou somos preciso precisamos quero queremos "
    "gostaria gostariamos temos tenho meu minha nosso nossa voces vcs ja agora hoje interessado interessada "
    "procuro buscamos busco tambem"
)
_NOT_COMPANIES = word_set(
    "um uma uns umas o a os as financeiro comercial setor departamento rh ti marketing vendas compras "
    "juridico administrativo administracao logistica operacoes suporte diretoria area equipe time "
    "cidade regiao interior capital casa empresa pequena grande familia fica tem esta foi precisa quer nao sim "
    "ainda possui atua trabalha vende faz "
    # "trabalho com revenda de cosméticos", "tenho uma loja": what the business does, not its name.
    "trabalho trabalhamos atuo atuamos mexo mexemos vendo vendemos faco fazemos tenho temos revendo revendemos"
)
_BEFORE_COMPANY = frozenset({"a", "o", "na", "no", "sou", "somos", "trabalho", "empresa", "é", "e", "eh"})
_SELF_EMPLOYED = re.compile(
    r"\bautonom[oa]\b|\bfreela\w*|\bprofissional\s+liberal\b|\btrabalho\s+sozinh[oa]\b|^\s*mei\s*$"
    r"|\b(?:sou|somos)\s+(?:um\s+|uma\s+)?mei\b|\bmicro\s*empreendedor\w*\s+individua\w*"
)
_PRIVATE_PERSON = re.compile(
    r"\bpessoa\s+fisica\b|\bnao\s+tenho\s+(?:uma\s+)?empresa\b|\bsem\s+empresa\b|\bnao\s+sou\s+empresa\b|"
    r"\b(?:pra|para)\s+mim\s+mesm[oa]\b|\buso\s+pessoal\b|\b(?:pra|para)\s+(?:minha|a\s+minha)\s+casa\b|"
    r"\bresidencia\w*\b|^\s*particular\s*$"
)
_COMPANY_ANSWER_PREFIX = re.compile(
    r"^\s*(?:(?:a|o)\s+)?(?:(?:minha|nossa)\s+)?(?:empresa\s+(?:eh|e|se\s+chama|chama)\s+|"
    r"(?:eu\s+)?trabalho\s+(?:na|no|em|pra|para)\s+(?:a\s+|o\s+)?|(?:eu\s+)?sou\s+(?:da|do)\s+|(?:eh|e)\s+(?:a|o)\s+|"
    r"(?:eh|e)\s+|se\s+chama\s+|chama\s+|(?:a\s+)?empresa\s+|somos\s+(?:a|o)\s+|(?:a|o)\s+nossa\s+e\s+(?:a|o)\s+)"
)


def find_company(text: str) -> tuple[str, int, int] | None:
    """A company the customer names ("trabalho na Acme", "empresa Pão Quente Ltda"): value, start, end."""
    original = text or ""
    folded = fold(original)
    self_employed = _company_for_person(folded)
    for pattern in _COMPANY_PATTERNS:
        for match in pattern.finditer(folded):
            company = _company_at(original, match.start("c"), match.end("c"))
            if company:
                return company[0], match.start(), company[1]
    suffixed = _company_before_suffix(original)
    if suffixed:
        return suffixed
    if self_employed:
        return self_employed, 0, 0
    return None


def company_from_answer(text: str) -> str | None:
    """A company given as the answer to "qual é a sua empresa?" ("Padaria Pão Quente", "trabalho na Acme")."""
    original = squash(text)
    folded = fold(original)
    person = _company_for_person(folded)
    if person:
        return person
    found = find_company(original)
    if found and (found[1] == 0 or is_filler(original[: found[1]])):
        return found[0]
    prefix = _COMPANY_ANSWER_PREFIX.match(folded)
    start = prefix.end() if prefix else 0
    company = trim_edges(original[start:])
    if not company or is_filler(company) or len(company.split()) > 8 or fold(company.split()[0]) in _NOT_COMPANIES:
        return None
    return _tidy_company(company)


def company_after_name(text: str, position: int) -> tuple[str, int, int] | None:
    """The company right after a name that ends at `position` ("Carla| da Acme"): value, start, end."""
    after = _COMPANY_AFTER_NAME.match(fold(text), position)
    if not after:
        return None
    company = _company_at(text, after.start("c"), after.end("c"))
    return (company[0], after.start(), company[1]) if company else None


def _company_at(original: str, start: int, end: int) -> tuple[str, int] | None:
    """The company name in `original[start:end]`, cut where the sentence goes on, and where it ends."""
    words = []
    for match in re.finditer(r"[\w&'./-]+", original[start:end]):
        word = match.group(0)
        gap = original[start + (words[-1][2] if words else 0) : start + match.start()]
        if words and re.search(r"[,;:!?\n]", gap):
            break
        folded_word = fold(word).strip(".")
        if folded_word in _COMPANY_STOP and words:
            break
        words.append((word, match.start(), match.end()))
        if word.endswith(".") and len(folded_word) > 3 and "." not in folded_word:
            break  # a full stop, not an abbreviation like "S.A." or "Cia."
    while words and fold(words[-1][0]).strip(".") in ("de", "do", "da", "dos", "das", "e", "&"):
        words.pop()
    if not words:
        return None
    first = fold(words[0][0]).strip(".")
    if first in _NOT_COMPANIES or first in _COMPANY_STOP or is_filler(first):
        return None
    text = _tidy_company(original[start + words[0][1] : start + words[-1][2]])
    if places.is_known_place(text):
        return None  # "sou da Bahia", "sou do Rio" are places
    return text, start + words[-1][2]


def _company_before_suffix(original: str) -> tuple[str, int, int] | None:
    """ "… Padaria do Zé Ltda …": the words before a legal-form suffix, back to where the sentence began."""
    for suffix in _LEGAL_SUFFIX.finditer(original):
        words = list(re.finditer(r"[\w&'.-]+", original[: suffix.start()]))
        kept: list[re.Match[str]] = []
        for word in reversed(words[-6:]):
            gap = original[word.end() : (kept[0].start() if kept else suffix.start())]
            folded_word = fold(word.group(0))
            if kept and re.search(r"[,;:!?\n]", gap):
                break
            # "Indústria e Comércio Ltda": an "e" between capitalised words is part of the name.
            joins_names = folded_word == "e" and bool(kept) and kept[0].group(0)[:1].isupper()
            if not joins_names and (folded_word in _COMPANY_STOP or folded_word in _BEFORE_COMPANY):
                break
            kept.insert(0, word)
        while kept and fold(kept[0].group(0)) in ("de", "do", "da", "dos", "das", "e"):
            kept.pop(0)
        if kept:
            start, end = kept[0].start(), suffix.end()
            return _tidy_company(original[start:end]), start, end
    return None


def _company_for_person(folded: str) -> str | None:
    if _SELF_EMPLOYED.search(folded):
        return "Autônomo"
    if _PRIVATE_PERSON.search(folded):
        return "Pessoa física"
    return None


def _tidy_company(text: str) -> str:
    """Title-case a company typed all in lower case ("padaria pão quente" -> "Padaria Pão Quente")."""
    text = squash(text).strip(" ,;:!?")
    if text.endswith(".") and "." not in text.rsplit(" ", 1)[-1][:-1]:
        text = text[:-1]  # a full stop; "S.A." keeps its dots
    if text != text.lower():
        return text
    small = {"de", "do", "da", "dos", "das", "e"}
    suffixes = {"ltda": "Ltda", "me": "ME", "mei": "MEI", "eireli": "EIRELI", "epp": "EPP", "s/a": "S/A", "sa": "S.A."}
    words = text.split()
    return " ".join(
        suffixes[word.rstrip(".")]
        if index == len(words) - 1 and index and word.rstrip(".") in suffixes
        else word
        if index and word in small
        else word[:1].upper() + word[1:]
        for index, word in enumerate(words)
    )
