"""Where the lead is: a city and its state (UF) from "sou de Campinas/SP", "moro em BH", "aqui em Recife".

A city is stored as "City/UF" when the state is known ("Campinas/SP", "Belo Horizonte/MG"), else as
written, title-cased ("Pindamonhangaba"). Nicknames become the city's name ("BH", "Sampa", "POA",
"Floripa"); "SP" and "RJ" alone mean the capital. A state alone ("sou da Bahia") is no city: it is
reported as a UF only.

Phrases that often mean something else ("estou em reunião", "sou da Acme", "aqui em casa") only
count when the place is a city or state we know; "moro em", "sou de", "resido em" accept any name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from agent.text import FILLER_WORDS, fold, word_set

STATES = {
    "AC": "Acre", "AL": "Alagoas", "AP": "Amapá", "AM": "Amazonas", "BA": "Bahia", "CE": "Ceará",
    "DF": "Distrito Federal", "ES": "Espírito Santo", "GO": "Goiás", "MA": "Maranhão", "MT": "Mato Grosso",
    "MS": "Mato Grosso do Sul", "MG": "Minas Gerais", "PA": "Pará", "PB": "Paraíba", "PR": "Paraná",
    "PE": "Pernambuco", "PI": "Piauí", "RJ": "Rio de Janeiro", "RN": "Rio Grande do Norte",
    "RS": "Rio Grande do Sul", "RO": "Rondônia", "RR": "Roraima", "SC": "Santa Catarina", "SP": "São Paulo",
    "SE": "Sergipe", "TO": "Tocantins",
}  # fmt: skip
_CITIES_BY_UF = {
    "AC": "Rio Branco", "AL": "Maceió;Arapiraca", "AP": "Macapá", "AM": "Manaus",
    "BA": "Salvador;Feira de Santana;Vitória da Conquista;Camaçari;Ilhéus;Lauro de Freitas;Porto Seguro;Itabuna",
    "CE": "Fortaleza;Juazeiro do Norte;Caucaia;Sobral", "DF": "Brasília;Taguatinga;Ceilândia",
    "ES": "Vitória;Vila Velha;Serra;Cariacica", "GO": "Goiânia;Anápolis;Aparecida de Goiânia;Rio Verde",
    "MA": "São Luís;Imperatriz", "MT": "Cuiabá;Várzea Grande;Rondonópolis;Sinop", "MS": "Campo Grande;Dourados",
    "MG": "Belo Horizonte;Contagem;Uberlândia;Juiz de Fora;Betim;Montes Claros;Uberaba;Governador Valadares;"
    "Ipatinga;Sete Lagoas;Divinópolis;Poços de Caldas;Varginha",
    "PA": "Belém;Ananindeua;Santarém;Marabá", "PB": "João Pessoa;Campina Grande", "PE": "Recife;Caruaru;Olinda;"
    "Jaboatão dos Guararapes;Petrolina", "PI": "Teresina;Parnaíba",
    "PR": "Curitiba;Londrina;Maringá;Ponta Grossa;Cascavel;Foz do Iguaçu;São José dos Pinhais",
    "RJ": "Rio de Janeiro;Niterói;Duque de Caxias;Nova Iguaçu;São Gonçalo;Petrópolis;Volta Redonda;"
    "Campos dos Goytacazes;Macaé;Cabo Frio", "RN": "Natal;Mossoró",
    "RS": "Porto Alegre;Caxias do Sul;Pelotas;Canoas;Santa Maria;Gravataí;Novo Hamburgo;Passo Fundo",
    "RO": "Porto Velho;Ji-Paraná", "RR": "Boa Vista",
    "SC": "Florianópolis;Joinville;Blumenau;Chapecó;Itajaí;Criciúma;Balneário Camboriú",
    "SP": "São Paulo;Campinas;Guarulhos;São Bernardo do Campo;Santo André;Osasco;Ribeirão Preto;Sorocaba;Santos;"
    "São José dos Campos;Jundiaí;Piracicaba;Bauru;São José do Rio Preto;Mogi das Cruzes;Diadema;Barueri;"
    "Taubaté;Limeira;Franca;Americana;Araraquara;Presidente Prudente;Marília;São Carlos;Indaiatuba;Itu;"
    "Atibaia;Praia Grande;Guarujá;São Vicente;Suzano;Cotia;Valinhos;Vinhedo;Sumaré;Hortolândia;Bragança Paulista",
    "SE": "Aracaju", "TO": "Palmas",
}  # fmt: skip
_NICKNAMES = {
    "sampa": "São Paulo", "sp": "São Paulo", "sao paulo capital": "São Paulo", "rio": "Rio de Janeiro",
    "rj": "Rio de Janeiro", "bh": "Belo Horizonte", "bhz": "Belo Horizonte", "beaga": "Belo Horizonte",
    "poa": "Porto Alegre", "bsb": "Brasília", "df": "Brasília", "floripa": "Florianópolis", "cwb": "Curitiba",
    "ssa": "Salvador", "sjc": "São José dos Campos", "rp": "Ribeirão Preto", "sbc": "São Bernardo do Campo",
    "jp": "João Pessoa", "bc": "Balneário Camboriú",
}  # fmt: skip
CITIES = {fold(city): (city, uf) for uf, names in _CITIES_BY_UF.items() for city in names.split(";")}
_STATE_NAMES = {fold(name): uf for uf, name in STATES.items()} | {"minas": "MG", "estado de sao paulo": "SP"}

_PLACE_WORDS = r"[a-z][a-z'-]*(?:\s+(?:d[aoe]s?\s+)?[a-z][a-z'-]*){0,3}"
# Verbs that introduce any place name, known or not.
_SURE_INTRO = re.compile(
    r"\b(?:moro|moramos|mora|resido|residimos|vivo|vivemos|sediad[oa]s?|localizad[oa]s?|basead[oa]s?|"
    r"(?:sou|somos|e|eh)\s+natural)\s+(?:em|no|na|de|do|da|aqui\s+em)\s+(?P<place>" + _PLACE_WORDS + ")"
    r"|\b(?:sou|somos)\s+de\s+(?P<place2>" + _PLACE_WORDS + ")"
    r"|\bminha\s+cidade\s+(?:eh|e)\s+(?P<place3>" + _PLACE_WORDS + ")"
    r"|\bcidade\s*(?:de|:)\s+(?P<place4>" + _PLACE_WORDS + ")"
)
# Phrases that introduce a place only when it is one we know ("estou em reunião" is not a city).
_KNOWN_INTRO = re.compile(
    r"\b(?:sou|somos)\s+(?:do|da)\s+(?P<place>" + _PLACE_WORDS + ")"
    r"|\b(?:estou|estamos|to|ficamos|fico|fica|atendo|atendemos|trabalho|trabalhamos)\s+(?:em|no|na|aqui\s+em)\s+"
    r"(?P<place2>" + _PLACE_WORDS + ")"
    r"|\b(?:aqui|daqui|direto|sou\s+aqui)\s+(?:de|em|do|da|no|na)\s+(?P<place3>" + _PLACE_WORDS + ")"
    r"|\b(?:em|de)\s+(?P<place4>" + _PLACE_WORDS + r")\s*[/-]\s*(?P<uf>[a-z]{2})\b"
    r"|\b(?:em|de)\s+(?P<place5>" + _PLACE_WORDS + ")"
)
_CITY_SLASH_UF = re.compile(r"(?P<place>" + _PLACE_WORDS + r")\s*(?:/|\s-\s|-|\()\s*(?P<uf>[a-z]{2})\b\)?")
# Words that end a place name: the sentence goes on after them.
_STOP_AFTER = word_set(
    "e mas que ha faz desde com por pra para onde quando porque pois aqui mesmo tambem ja agora "
    "meu minha nosso nossa trabalho trabalhamos sou somos preciso precisamos quero queremos tenho temos "
    "a o as os um uma empresa"
)
_NOT_PLACES = word_set(
    "uma um empresa casa la ca longe perto outro outra fora reuniao duvida trabalho viagem ferias dia "
    "tarde noite manha escritorio loja acordo contato aqui ali interior capital centro zona bairro "
    "rua avenida cidade brasil ate"
)


_PLACE_GROUPS = ("place", "place2", "place3", "place4", "place5")
_UF_SUFFIX = re.compile(r"\s*(?:/|-|\()\s*([a-z]{2})\b\)?")


@dataclass(frozen=True)
class Place:
    city: str  # "Campinas/SP"; "" when only the state is known
    uf: str  # "SP"; "" when unknown
    start: int
    end: int
    # Where the words introducing it start ("moro em …"); once the place is taken, no word of them is
    # left to be read as something else ("sou" as a company name).
    said_from: int | None = None

    @property
    def phrase_start(self) -> int:
        return self.start if self.said_from is None else min(self.said_from, self.start)


def find_place(text: str) -> Place | None:
    """The lead's city or state, when `text` says where they are; None otherwise."""
    original = text or ""
    folded = fold(original)
    for pattern, known_only in ((_SURE_INTRO, False), (_KNOWN_INTRO, True)):
        for match in pattern.finditer(folded):
            group = next(name for name in _PLACE_GROUPS if match.groupdict().get(name))
            uf_hint = match.groupdict().get("uf")
            place = _place(original, folded, match.start(group), match.end(group), uf_hint, known_only=known_only)
            if place is not None:
                return replace(place, said_from=match.start())
    for match in _CITY_SLASH_UF.finditer(folded):
        uf_text = original[match.start("uf") : match.end("uf")]
        # "Campinas/sp" is clear; after "-" or "(" only "SP" in capitals is a state and not a word.
        if "/" not in folded[match.end("place") : match.start("uf")] and not uf_text.isupper():
            continue
        place = _place(original, folded, match.start("place"), match.end("place"), match.group("uf"), known_only=False)
        if place is not None and place.uf:
            return place
    return None


def is_known_place(text: str) -> bool:
    """Whether `text` is just the name of a city or state we know ("Bahia", "Rio", "Campinas")."""
    key = " ".join(fold(text or "").split())
    key = fold(_NICKNAMES.get(key, key))
    return key in CITIES or key in _STATE_NAMES


def place_from_answer(text: str) -> Place | None:
    """A place given as a bare answer to "de qual cidade você fala?" ("Campinas", "BH", "Recife - PE")."""
    found = find_place(text)
    if found is not None:
        return found
    original = (text or "").strip()
    folded = fold(original)
    match = re.match(r"\s*(?:de\s+|em\s+)?(" + _PLACE_WORDS + r")(?:\s*[/-]\s*([a-z]{2})\b)?\s*[.!]*\s*$", folded)
    if not match:
        return None
    return _place(original, folded, match.start(1), match.end(1), match.group(2), known_only=False)


def _place(original: str, folded: str, start: int, end: int, uf_hint: str | None, *, known_only: bool) -> Place | None:
    words = folded[start:end].split()
    # A place name ends where the sentence goes on ("Campinas e preciso de...").
    for index, word in enumerate(words):
        if word in _STOP_AFTER and index > 0:
            words = words[:index]
            break
    while words and words[-1] in ("de", "do", "da", "dos", "das"):
        words.pop()
    if not words or words[0] in _NOT_PLACES or words[0] in _STOP_AFTER or words[0] in FILLER_WORDS:
        return None
    uf = uf_hint.upper() if uf_hint and uf_hint.upper() in STATES else ""
    # Longest known name first: "sao jose dos campos" before "sao jose".
    for size in range(len(words), 0, -1):
        key = " ".join(words[:size])
        span_end = _span_end(folded, start, words[:size])
        if key in _NICKNAMES:
            key = fold(_NICKNAMES[key])
        if key in CITIES:
            city, city_uf = CITIES[key]
            return Place(f"{city}/{uf or city_uf}", uf or city_uf, start, span_end)
        if key in _STATE_NAMES and not uf:
            return Place("", _STATE_NAMES[key], start, span_end)
    if known_only and not uf:
        return None
    name = _title(original[start : _span_end(folded, start, words)])
    if len(words) > 3 or len(name) < 3:
        return None
    return Place(f"{name}/{uf}" if uf else name, uf, start, _span_end(folded, start, words))


def _span_end(folded: str, start: int, words: list[str]) -> int:
    """Where the place's words end, a written "/SP" included."""
    position = start
    for word in words:
        position = folded.index(word, position) + len(word)
    suffix = _UF_SUFFIX.match(folded, position)
    if suffix and suffix.group(1).upper() in STATES:
        position = suffix.end()
    return position


def _title(text: str) -> str:
    small = {"de", "do", "da", "dos", "das"}
    parts = text.split()
    return " ".join(
        part.lower() if index and part.lower() in small else part[:1].upper() + part[1:].lower()
        for index, part in enumerate(parts)
    )
