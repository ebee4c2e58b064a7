"""STOP-style opt-out: does this customer message ask us to stop writing?

The rule, made to fire on real requests and not on ordinary sentences that share a word:

1. A bare keyword is an opt-out only when it is the whole message: "SAIR", "sai", "me remove", "Parar", "stop",
   "cancelar", "descadastrar", "remover", "PARE", optionally with "quero", "por favor", punctuation
   or emoji ("Quero sair!", "STOP 🛑"). "não vou parar de usar", "quero sair do aluguel" or "pode
   parar de se preocupar" are longer sentences, so they are not.
2. Anywhere in a message, an explicit request about receiving messages or about the list is an
   opt-out: "não quero mais receber", "parem de me mandar mensagem", "me tire da lista", "me
   remova da lista de contatos", "não me mande mais mensagens", "cancelar o recebimento",
   "descadastrar meu número", "remover meu número", "não me chamem mais", "não quero mais mensagens".
3. A negation right before the request cancels it: "eu não disse para parar de me mandar", "não
   quero sair da lista" and "não precisa me tirar da lista" are not opt-outs.

Text is folded (lower case, no accents) first, so "NAO QUERO MAIS RECEBER" and "não quero mais
receber" are the same request.
"""

from __future__ import annotations

import re

from agent.text import fold

_KEYWORDS = r"sair|sai|parar|pare|para|stop|cancelar|cancela|descadastrar|descadastra|remover|unsubscribe|chega"
_ME_KEYWORDS = r"remove|remova|tira|tire|exclui|exclua|descadastra|descadastre"
_WHOLE_MESSAGE = re.compile(
    rf"^(?:(?:eu\s+)?(?:quero|gostaria\s+de|desejo)\s+)?(?:{_KEYWORDS}|me\s+(?:{_ME_KEYWORDS}))"
    rf"(?:\s+(?:por\s+favor|pf|pfv|pfvr|obrigad[oa]))?$"
)
_OF_THE = r"(?:da|de|das|dessa|desta|dessas|destas)\s+(?:sua\s+|suas\s+)?"
_REQUESTS = re.compile(
    r"\bnao\s+(?:quero|desejo|gostaria\s+de)\s+(?:mais\s+)?receber\b"
    r"|\bnao\s+(?:me\s+)?(?:mande|manda|mandem|envie|envia|enviem)\s+mais\b"
    r"|\b(?:pare|para|parem|parar)\s+de\s+(?:me\s+)?(?:mandar|enviar|mandando|enviando|encher|incomodar|ligar|chamar)\b"
    r"|\b(?:me\s+)?(?:tire|tira|tirem|tirar|remova|remove|removam|remover|retire|retira|exclua|exclui|excluam|excluir|"
    r"apague|apaga|deletar|delete)\s+(?:o\s+meu\s+numero\s+|meu\s+numero\s+|meu\s+contato\s+|o\s+meu\s+contato\s+)?"
    r"(?:" + _OF_THE + r")?(?:lista|listas|base|cadastro|contatos|mailing)\b"
    r"|\b(?:quero\s+)?sair\s+(?:" + _OF_THE + r")(?:lista|base|mailing)\b"
    r"|\bdescadastr\w*|\bcancel\w*\s+(?:o\s+)?(?:recebimento|envio|inscricao|cadastro)\b"
    r"|\bnao\s+(?:tenho\s+interesse|quero)\s*,?\s*(?:pare|parem|para)\s+de\b"
    r"|\b(?:remover|remova|remove|removam|excluir|exclua|exclui|apagar|apague|apaga|deletar|delete|tirar|tire|tira)\s+"
    r"(?:o\s+)?meu\s+(?:numero|contato|telefone|cadastro|whats\w*|zap)\b"
    r"|\bnao\s+(?:me\s+)?(?:chame|chama|chamem|procure|procura|procurem|contate|contatem|ligue|liguem|incomode|"
    r"incomodem|perturbe|perturbem)\s+mais\b(?!\s+de\b)"
    r"|\bnao\s+(?:quero|desejo)\s+mais\s+(?:receber\s+)?(?:mensage\w*|msgs?|contato\b(?!\s+com)|propaganda\w*|spam)"
    r"|\bchega\s+de\s+(?:mensage\w*|msgs?|spam|propaganda\w*)\b"
)
_NEGATED = re.compile(r"\b(?:nao|nunca|nem)\s+(?:\w+\s+){0,2}$")
_FILLER = re.compile(r"[^\w\s]|_")


def is_opt_out(text: str) -> bool:
    """Whether one customer message asks to stop receiving messages (see the module's rule)."""
    folded = fold(text or "")
    bare = " ".join(_FILLER.sub(" ", folded).split())
    if _WHOLE_MESSAGE.match(bare):
        return True
    for match in _REQUESTS.finditer(folded):
        before = folded[: match.start()]
        # "não quero mais receber" starts with its own "não"; any other negation just before cancels it.
        if not match.group(0).startswith("nao") and _NEGATED.search(before):
            continue
        return True
    return False
