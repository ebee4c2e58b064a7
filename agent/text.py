"""Text helpers shared by the extractors: accent folding that keeps offsets, clauses, fillers.

Customers type without accents, in lower case, with typos. Every pattern in the agent therefore
matches a *folded* copy of the text (lower case, accents removed) that has exactly the same length
as the original, so a match's span can cut the original words out, accents and capitals intact.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# Placeholders `conversations` puts before a caption for media ("[áudio]", "[imagem] olha").
MEDIA_PLACEHOLDER = re.compile(
    r"\[(?:imagem|áudio|audio|vídeo|video|documento|figurinha|localização|localizacao|"
    r"contato|reação|reacao|mensagem)\]\s*",
    re.IGNORECASE,
)


def word_set(words: str) -> frozenset[str]:
    """A set of words written as one space-separated string (long word lists stay readable)."""
    return frozenset(words.split())


_SPACES = re.compile(r"\s+")
_CLAUSE_BREAK = re.compile(r"[.!?;\n]+|,|\s+-\s+|\s+—\s+")
# Words that carry no answer of their own: greetings, courtesy, connectors and question cues.
FILLER_WORDS = word_set(
    """
    oi ola opa ei eai e ai bom boa dia tarde noite tudo bem bom tb td blz beleza ok okay certo sim nao
    obrigado obrigada obg brigado brigada valeu vlw show legal otimo perfeito entendi claro ta tah
    pois entao entao bem hum hmm ah eh uai rs kk kkk kkkk haha hehe
    o a os as um uma uns umas de do da dos das em no na nos nas para pra pro por pelo pela com e ou
    mas que se meu minha meus minhas nosso nossa seu sua eu nos voce vc voces vcs
    aqui la isso isto esse essa este esta ai
    mais menos cerca aproximadamente uns umas tipo assim
    """
)
# Words left dangling at the edges of a clause once a fact was cut out of it.
EDGE_WORDS = word_set(
    """
    e ou mas que de do da dos das em no na nos nas para pra pro por com a o as os um uma uns umas
    ate cerca aproximadamente tipo mais menos meu minha nosso nossa seu sua
    """
)


def fold(text: str) -> str:
    """Lower case without accents, one output character per input character (offsets survive)."""
    out = []
    for char in text:
        base = unicodedata.normalize("NFD", char)[:1].lower()
        out.append(base if len(base) == 1 else char)
    return "".join(out)


def squash(text: str) -> str:
    """Collapse runs of whitespace and trim."""
    return _SPACES.sub(" ", text or "").strip()


def without_media_placeholder(text: str) -> str:
    return MEDIA_PLACEHOLDER.sub("", text or "").strip()


def blank_spans(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """`text` with each span replaced by a clause break, so the pieces around it stay apart."""
    chars = list(text)
    for start, end in spans:
        for index in range(max(0, start), min(len(chars), end)):
            chars[index] = " "
        if 0 <= start < len(chars):
            chars[start] = ","
    return "".join(chars)


def clauses(text: str) -> list[str]:
    """Pieces of a message between sentence marks and commas, trimmed, empty ones dropped."""
    return [piece for piece in (squash(part) for part in _CLAUSE_BREAK.split(text or "")) if piece]


def trim_edges(text: str, *, leading: bool = True) -> str:
    """Drop connectors and punctuation left at the edges of a clause ("de", "e", "até", "…")."""
    words = squash(text).split(" ")
    while leading and words and (fold(words[0]).strip(".,;:!?-") in EDGE_WORDS or not _has_word_char(words[0])):
        words.pop(0)
    while words and (fold(words[-1]).strip(".,;:!?-") in EDGE_WORDS or not _has_word_char(words[-1])):
        words.pop()
    return " ".join(words).strip(" .,;:!?-")


def is_filler(text: str) -> bool:
    """True when `text` says nothing beyond greetings, courtesy and connectors (or nothing at all)."""
    words = words_of(fold(text))
    return all(word in FILLER_WORDS for word in words)


def words_of(folded: str) -> list[str]:
    return re.findall(r"[a-z0-9@']+", folded)


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters at a word boundary, with an ellipsis when cut."""
    text = squash(text)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:")
    return cut + "…"


def _has_word_char(word: str) -> bool:
    return any(char.isalnum() for char in word)
