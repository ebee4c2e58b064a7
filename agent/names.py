"""People's names: from self-introductions, from bare answers, and from WhatsApp push names.

Unprompted, only a self-introduction counts ("meu nome é…", "me chamo…", "sou o/a…", "aqui é o/a…",
"pode me chamar de…", "X aqui", or "sou X" when X is a known first name). As the answer to "qual é
o seu nome?", the first words that look like a name count ("ana paula, e vc?" -> "Ana Paula").

A name ends where the sentence goes on: punctuation, a common word ("Ana tudo bem" -> "Ana"), or
"da/do/de" followed by something that is not a surname ("Carla da Acme" -> "Carla", while
"João da Silva" stays whole).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent import places
from agent.text import FILLER_WORDS, fold, word_set

_MAX_NAME_WORDS = 5
_PARTICLES = frozenset({"da", "de", "do", "das", "dos", "e"})
# Frequent Brazilian first names: "sou ana" without an article still reads as a name.
FIRST_NAMES = word_set(
    """
    ana maria julia juliana mariana fernanda patricia camila amanda bruna leticia larissa beatriz gabriela
    aline vanessa carolina carla claudia sandra adriana daniela luciana renata tatiana priscila jessica
    natalia paula isabela isabel sofia alice laura manuela helena valentina luiza luisa giovana rafaela
    vitoria sara sarah debora raquel rita regina rosa simone silvia tereza teresa vera marcia monica
    cristina denise elaine eliane fabiana flavia joana lucia marta sonia viviane kelly karina talita thais
    joao jose antonio francisco carlos paulo pedro lucas luiz luis marcos gabriel rafael daniel marcelo
    bruno eduardo felipe fernando rodrigo gustavo guilherme ricardo andre tiago thiago diego leonardo
    leandro fabio vinicius matheus mateus mateo victor vitor igor caio henrique heitor arthur artur
    bernardo davi miguel enzo samuel joaquim alexandre roberto sergio marcio mauricio renato rogerio
    julio cesar otavio claudio edson wagner wellington anderson alan allan everton jorge raul hugo
    benedito sebastiao geraldo raimundo manoel manuel ze zezinho chico junior neto
    """
)
SURNAMES = word_set(
    """
    silva santos souza sousa oliveira pereira lima carvalho ferreira rodrigues almeida costa gomes martins
    araujo melo barbosa ribeiro alves cardoso rocha dias nascimento andrade moreira nunes marques machado
    mendes freitas cavalcanti monteiro moura lopes castro vieira teixeira correia campos pinto fernandes
    azevedo reis luz cruz paz conceicao mota motta prado ramos batista borges fonseca aguiar assis
    jesus deus paula cunha farias faria brito queiroz siqueira silveira graca penha gloria carmo rosario
    lourdes fatima aparecida guia anunciacao assuncao
    """
)
# Words that are never part of a name, so an answer like "quero um orçamento" is not taken as one.
NOT_NAMES = FILLER_WORDS | word_set(
    """
    quero queria preciso gostaria estou to tava sou somos tenho temos vou vamos pode posso fala falo
    nome chamo chama empresa loja trabalho responsavel dono dona gerente diretor diretora socio socia
    cliente interessado interessada vendedor atendente humano pessoa robo bot assistente comprador
    compras financeiro comercial marketing setor departamento ti rh
    qual quais quanto quanta quantos quando onde como porque pq por que quem
    orcamento preco valor proposta sistema site produto servico informacao informacoes duvida
    prefiro depois agora hoje amanha ainda nada ninguem alguem tudo todos
    autonomo autonoma estudante medico medica advogado advogada engenheiro engenheira
    novo nova mesmo mesma so apenas tambem muito pouco
    me te se lhe mim ti manda mande envia envie segue vai tem ter estamos esta tava foi sera seria
    moro moramos resido vivo vim vi acho falamos trabalhamos atendo atendemos somos manha
    favor obrigado certo verdade claro olha veja bom ruim email mail whatsapp telefone numero
    mercado mercadinho supermercado padaria oficina clinica consultorio escola colegio pousada hotel restaurante
    lanchonete pizzaria hamburgueria barbearia salao studio estudio academia farmacia drogaria distribuidora
    construtora transportadora imobiliaria agencia escritorio otica petshop pet mecanica borracharia doceria
    confeitaria sorveteria acougue floricultura papelaria livraria atelie boutique grafica lavanderia comercio
    industria metalurgica autopecas loja lojas ltda eireli
    """
)
# Courtesy titles skipped before a name ("sou a Dra. Márcia" -> "Márcia").
_TITLE_WORDS = word_set("dr dra doutor doutora sr sra srta senhor senhora prof profa professor professora")
# Interjections a name answer may start with ("ah ok. Simone", "tá, é Pedro").
_INTERJECTIONS = re.compile(
    r"^\s*(?:(?:ah+|ahn|ok|okay|ta|tah|hum+|hm+|entao|certo|beleza|blz|sim|claro|opa|ops|uai|pois|show|perfeito|"
    r"desculp[ae]|foi\s+mal|entendi|combinado|ah\s+ta|ah\s+sim|ah\s+ok)\b[\s,.!?;:…-]*)+"
)
_TITLES = re.compile(r"^(?:dr|dra|sr|sra|srta|prof|profa|eng|pr|pra)\.?\s+", re.IGNORECASE)

# Self-introductions; the name follows the match.
_INTRO = re.compile(
    r"(?:\b(?:o\s+)?meu\s+nome\s+(?:eh|e|:)\s*(?:o\s+|a\s+)?"
    r"|\bme\s+chamo\s+|\bme\s+chamam\s+de\s+|\bpode\s+me\s+chamar\s+de\s+|\b(?:meu\s+)?nome\s*:\s*"
    r"|\b(?:eu\s+)?sou\s+(?:o|a)\s+|\baqui\s+(?:eh|e)\s+(?:o\s+|a\s+)?|\bquem\s+fala\s+(?:eh|e)\s+(?:o\s+|a\s+)?"
    r"|\bfalo\s+com\s+voce\s+(?:eh|e)\s+)"
)
_SOU_BARE = re.compile(r"\b(?:eu\s+)?sou\s+(?=[a-z])")
_NAME_AQUI = re.compile(r"^\s*(?:(?:oi|ola|opa|bom\s+dia|boa\s+tarde|boa\s+noite)[\s,!.]*)?(?P<name>[a-z]+)\s+aqui\b")
_GREETING = re.compile(r"^\s*(?:(?:oi|ola|opa|e\s+ai|bom\s+dia|boa\s+tarde|boa\s+noite|tudo\s+bem)\b[\s,!.?]*)+")
_ANSWER_PREFIX = re.compile(
    r"^\s*(?:(?:o\s+)?meu\s+nome\s+(?:eh|e)(?:\s+(?:o|a))?\s+|me\s+chamo\s+|pode\s+me\s+chamar\s+de\s+"
    r"|(?:eu\s+)?sou\s+(?:o|a)\s+|(?:eu\s+)?sou\s+|aqui\s+(?:eh|e)(?:\s+(?:o|a))?\s+|(?:eh|e)\s+(?:o|a)\s+|(?:eh|e)\s+)"
)
_COMPANY_FOLLOWS = re.compile(r"\s*,?\s*(?:da|do)\s+\w")
_WORD = re.compile(r"[^\W\d_][\w'-]*", re.UNICODE)
_SENTENCE_MARK = re.compile(r"[,.;:!?\n(]")


@dataclass(frozen=True)
class NameMatch:
    name: str
    start: int
    end: int  # where the name's words end in the original text


def find_introduced_name(text: str) -> NameMatch | None:
    """A name the customer introduced themselves with, or None."""
    original = text or ""
    folded = fold(original)
    for match in _INTRO.finditer(folded):
        found = _name_at(original, folded, match.end(), require_known=False)
        if found is not None:
            return NameMatch(found.name, match.start(), found.end)
    aqui = _NAME_AQUI.match(folded)
    if aqui and aqui.group("name") in FIRST_NAMES:
        found = _name_at(original, folded, aqui.start("name"), require_known=False)
        if found is not None:
            return NameMatch(found.name, aqui.start("name"), aqui.end())
    for match in _SOU_BARE.finditer(folded):
        found = _name_at(original, folded, match.end(), require_known=True)
        if found is not None:
            return NameMatch(found.name, match.start(), found.end)
    return None


def leading_known_name(text: str) -> NameMatch | None:
    """A message that starts with a known first name before its company ("Carla da Acme", "Eduardo
    Martins, da Metalúrgica Forte"): the name; None for anything else ("Padaria do Zé")."""
    original = text or ""
    folded = fold(original)
    position = _after_answer_prefix(folded, _after_greeting(folded))
    found = _name_at(original, folded, position, require_known=True)
    if found is None or not _COMPANY_FOLLOWS.match(folded, found.end):
        return None
    return found


def extract_name(text: str) -> str | None:
    """A name given as an answer: "meu nome é maria souza" -> "Maria Souza", "PEDRO" -> "Pedro"."""
    original = text or ""
    folded = fold(original)
    introduced = find_introduced_name(original)
    if introduced is not None:
        return introduced.name
    position = _after_answer_prefix(folded, _after_greeting(folded))
    found = _name_at(original, folded, position, require_known=False)
    return found.name if found else None


def bare_known_name(text: str) -> NameMatch | None:
    """A message that is only a person's name, starting with a known first name ("Wagner", "oi, Ana
    Paula Souza!"): the name; None for anything else ("Maria Padaria", "Rosa Flores Decoração")."""
    original = text or ""
    folded = fold(original)
    found = _name_at(original, folded, _after_greeting(folded), require_known=True)
    if found is None or re.search(r"\w", folded[found.end :]):
        return None
    words = [fold(word) for word in found.name.split()]
    if any(word not in FIRST_NAMES and word not in SURNAMES and word not in _PARTICLES for word in words[1:]):
        return None
    return found


def clean_push_name(push_name: str) -> str:
    """A WhatsApp display name fit for a greeting: emoji, numbers and titles removed; '' when none is left.

    "Maria Souza 🌸" -> "Maria Souza", "Dr. João" -> "João", "+55 11 99999-0000" -> "", "🌸🌸" -> "".
    """
    text = _TITLES.sub("", (push_name or "").strip())
    if sum(char.isdigit() for char in text) >= 4:
        return ""  # a phone number, or a name glued to one
    found = _name_at(text, fold(text), 0, require_known=False, skip_symbols=True)
    if found is None or len(found.name.replace(" ", "")) < 2:
        return ""
    return found.name


def first_name(text: str) -> str:
    """The first word of a cleaned name ("Maria Souza" -> "Maria"), '' when there is none."""
    return text.split()[0] if text and text.split() else ""


def _after_greeting(folded: str) -> int:
    """Where an answer starts once greetings and interjections are passed ("oi! ah ok. Simone")."""
    position = -1
    end = 0
    while end != position:
        position = end
        for pattern in (_GREETING, _INTERJECTIONS):
            found = pattern.match(folded[end:])  # a slice: the patterns anchor at "^"
            if found and found.end() > 0:
                end += found.end()
    return end


def _after_answer_prefix(folded: str, position: int) -> int:
    """Where the name starts once "meu nome é", "sou o", "é a"… are passed."""
    prefix = _ANSWER_PREFIX.match(folded[position:])  # a slice: the pattern anchors at "^"
    return position + prefix.end() if prefix else position


def _name_at(
    original: str, folded: str, position: int, *, require_known: bool, skip_symbols: bool = False
) -> NameMatch | None:
    """The name starting at `position`: up to five name-like words, stopping where the sentence goes on."""
    words: list[tuple[str, int]] = []
    cursor = position
    after_title = False
    while len(words) < _MAX_NAME_WORDS:
        match = _WORD.search(original, cursor)
        if match is None:
            break
        gap = original[cursor : match.start()]
        if words and gap.strip():
            break  # punctuation or an emoji between words ends the name: "Ana, prazer", "Ana 😊 tudo bem"
        if after_title:
            gap = gap.replace(".", "", 1)  # "Dra. Márcia"
        if not words and not skip_symbols and (_SENTENCE_MARK.search(gap) or any(c.isdigit() for c in gap)):
            break
        word = match.group(0)
        folded_word = fold(word)
        if not words and not after_title and folded_word in _TITLE_WORDS and _WORD.search(original, match.end()):
            after_title = True
            cursor = match.end()
            continue
        if any(char.isdigit() for char in word):
            break
        if folded_word in _PARTICLES and words:
            following = _WORD.search(original, match.end())
            rest = fold(original[match.end() :])
            if following is None or not _continues_name(fold(following.group(0)), folded_word, rest):
                break
        elif folded_word in NOT_NAMES or (not words and require_known and folded_word not in FIRST_NAMES):
            break
        words.append((word, match.end()))
        cursor = match.end()
    while words and fold(words[-1][0]) in _PARTICLES:
        words.pop()
    if not words:
        return None
    name = " ".join(_capitalize(word, first=index == 0) for index, (word, _) in enumerate(words))
    return NameMatch(name, position, words[-1][1])


def _continues_name(following: str, particle: str, rest: str) -> bool:
    """After "da/de/do", a surname continues the name; a company, a department or a city does not."""
    if particle == "e":
        return False  # "Ana e Pedro" are two people; the name is the first
    if following in SURNAMES:
        return True  # "José dos Santos" is a name before Santos is a city
    if particle in ("de", "dos", "das"):
        # "Maria de Lourdes", "Fulano de Tal"; but "Ana de Campinas" is Ana, from Campinas.
        next_words = re.findall(r"[a-z']+", rest)[:4]
        is_place = any(places.is_known_place(" ".join(next_words[:size])) for size in range(1, len(next_words) + 1))
        return following not in NOT_NAMES and not is_place
    return following in SURNAMES  # "Fábio da Fábio Reformas": a first name after "da" starts a company


def _capitalize(word: str, *, first: bool) -> str:
    lowered = word.lower()
    if not first and lowered in _PARTICLES:
        return lowered
    return "-".join(part[:1].upper() + part[1:] for part in lowered.split("-"))
