"""What a customer message is doing besides answering: asking for a person, trying to steer the
agent, asking about prices or a proposal, dodging a question, asking to be called later.

Every check works on folded text (lower case, no accents), so typos in accents don't matter.
"""

from __future__ import annotations

import re

from agent.text import fold, is_filler

_PEOPLE = (
    r"(?:atendente|humano|humana|ser\s+humano|pessoa(?:\s+(?:real|de\s+verdade))?|gente(?:\s+de\s+verdade)?|"
    r"vendedor|vendedora|consultor|consultora|especialista|gerente|responsavel|operador|operadora|"
    r"alguem(?:\s+(?:real|de\s+verdade|do\s+time|da\s+equipe|da\s+empresa))?)"
)
_HUMAN_REQUEST = re.compile(
    rf"\b(?:falar|conversar|atendimento|falo|fale)\s+com\s+(?:um\s+|uma\s+|o\s+|a\s+|algum\s+|alguma\s+)?{_PEOPLE}\b"
    rf"|\b(?:quero|queria|preciso\s+de|gostaria\s+de|cade|chama|chame|chamar|me\s+passa|me\s+passe|me\s+transfere|"
    rf"me\s+transfira|transfere|transferir|passa|passe)\s+(?:para\s+|pra\s+)?(?:um\s+|uma\s+|o\s+|a\s+)?"
    rf"(?:atendente|humano|humana|ser\s+humano|pessoa\s+(?:real|de\s+verdade)|vendedor|vendedora|consultor|consultora|"
    rf"operador|operadora)\b"
    r"|\b(?:nao\s+quero|nao\s+gosto\s+de|odeio)\s+(?:falar\s+com\s+|conversar\s+com\s+)?(?:um\s+|uma\s+|o\s+|a\s+)?"
    r"(?:robo|bot|maquina|ia|inteligencia\s+artificial|chatbot|assistente\s+virtual)\b"
    r"|^\s*(?:atendente|humano|atendimento\s+humano|pessoa|falar\s+com\s+atendente)\s*[!.?,]*"
    r"(?:\s*(?:por\s+favor|pf|pfv|pfvr|please))?\s*[!.?]*\s*$"
    # "tem alguém aí de verdade?", "tem algum humano aí?": wanting a person, asked as a question.
    # ("tem alguém aí?" alone only checks that someone reads.)
    r"|\btem\s+(?:alguem|gente)(?:\s+(?:ai|aqui|ae))?\s+(?:de\s+verdade|real|de\s+carne\s+e\s+osso)\b"
    r"|\btem\s+(?:algum\s+(?:humano|atendente|vendedor)|alguma\s+pessoa|uma\s+pessoa|um\s+humano)"
    r"(?:\s+(?:ai|aqui|ae))?\s*[?!.]*\s*$"
    r"|\batendimento\s+(?:humano|com\s+(?:uma\s+)?pessoa)\b"
    # "me passa pra alguém do comercial", "chama alguém de verdade": a person, by the team they work in.
    rf"|\b(?:me\s+passa|me\s+passe|me\s+transfere|me\s+transfira|me\s+coloca|me\s+coloque|me\s+encaminha|"
    rf"me\s+encaminhe|chama|chame|transfere|transfira|pode(?:m|ria)?\s+(?:me\s+)?(?:chamar|passar|transferir|colocar))\s+"
    rf"(?:para\s+|pra\s+|pro\s+|com\s+)?(?:um\s+|uma\s+|o\s+|a\s+)?"
    rf"(?:{_PEOPLE}|(?:setor\s+|time\s+|equipe\s+|area\s+)?(?:comercial|de\s+vendas|atendimento|suporte))\b"
    r"|\b(?:quero|queria|prefiro)\s+(?:falar\s+com\s+)?(?:uma\s+)?pessoa\s*[!.?]*\s*$"
    r"|\b(?:voces|vcs|ai)\s+tem\s+(?:algum\s+|alguma\s+|um\s+|uma\s+)?(?:atendente|humano|atendimento\s+humano|"
    r"vendedor|vendedora|consultor|consultora|pessoa\s+(?:real|de\s+verdade))\b"
)
# After the closing invites "se quiser falar com uma pessoa, é só me dizer": a plain yes.
_AFFIRMS = re.compile(
    r"^\W*(?:sim|quero|quero\s+sim|sim\s+quero|pode\s+ser|pode|pode\s+sim|claro|com\s+certeza|por\s+favor|"
    r"bora|vamos|gostaria|gostaria\s+sim|isso|quero\s+falar|pode\s+chamar|pode\s+passar)"
    r"(?:\W+(?:sim|por\s+favor|pf|pfv|quero|pode|obrigad[oa]))*\W*$"
)
# A phone call is a person's job; "me liga amanhã" is a follow-up instead (see wants_later).
_CALL_REQUEST = re.compile(
    r"\b(?:(?:pode|podem|poderia|poderiam|consegue|conseguem|da\s+pra|tem\s+como)\s+)?me\s+(?:ligar|liga|ligue|telefonar)\b"
    r"|\bliga\s+(?:pra|para)\s+mim\b|\b(?:quero|prefiro|gostaria\s+de)\s+(?:uma\s+)?ligacao\b"
    r"|\bprefiro\s+(?:falar|conversar|resolver|tratar)\s+(?:isso\s+)?(?:por|pelo|no|via)\s+telefone\b"
)
_NEGATED_HUMAN = re.compile(r"\bnao\s+(?:quero|preciso|precisa|e\s+preciso)\s+(?:\w+\s+){0,2}$")
_ASKS_IF_BOT = re.compile(
    r"\b(?:voce|vc|tu|e|eh)\s+(?:e\s+|eh\s+)?(?:um\s+|uma\s+)?(?:robo|bot|maquina|ia|pessoa\s+de\s+verdade|humano|humana)"
    r"\b[^.!?]{0,30}\?|\b(?:to|estou)\s+falando\s+com\s+(?:um\s+|uma\s+)?(?:robo|bot|maquina|ia|humano|pessoa)"
    r"|\b(?:gente|pessoa|humano)\s+ou\s+(?:um\s+)?(?:robo|bot|maquina)\b|\b(?:robo|bot|maquina)\s+ou\s+(?:gente|pessoa|humano)\b"
)

_INJECTION = re.compile(
    r"\b(?:ignore|ignora|ignorar|esqueca|esquece|esquecer|desconsidere|desconsidera|desconsiderar|descarte|"
    r"despreze|sobrescreva)\s+(?:todas\s+|todos\s+|tudo\s+|as\s+|os\s+|suas\s+|seus\s+|o\s+que\s+)*"
    r"(?:instruc\w*|regras?|orientac\w*|ordens?|comandos?|diretrizes|prompt|programacao|configurac\w*|"
    r"anteriores?|acima|foi\s+dito|te\s+disseram|(?:o\s+)?que\s+te\s+(?:disseram|falaram|mandaram|pediram|ensinaram))"
    r"|\bignore\s+(?:all\s+|the\s+|your\s+)*(?:previous|prior|above)?\s*instructions\b|\bdisregard\s+(?:all|previous)"
    r"|\b(?:voce|vc)\s+agora\s+(?:eh|e|sera|vai\s+ser)\b|\ba\s+partir\s+de\s+agora\s+(?:voce|vc)\s+(?:eh|e|sera|vai)"
    r"|\b(?:finja|finge|fingir)\s+(?:que|ser)\b|\bfaca\s+de\s+conta\b|\b(?:aja|atue|responda|comporte-se)\s+como\s+"
    r"(?:se\s+)?(?:fosse\s+)?(?:um|uma|o|a|meu|minha)\b|\bvoce\s+e\s+(?:um|uma)\s+(?:novo|nova|outro|outra)\b"
    r"|\byou\s+are\s+now\b|\bact\s+as\b|\bpretend\s+(?:to|you)\b"
    r"|\b(?:mostre|mostra|mostrar|revele|revela|revelar|diga|diz|dizer|fala|falar|passe|passa|envie|envia|mande|"
    r"manda|copie|copia|repita|repete|imprima|escreva|escreve|qual\s+(?:eh|e))\s+(?:pra\s+mim\s+|para\s+mim\s+)?"
    r"(?:o\s+|a\s+|as\s+|os\s+|todo\s+o\s+|todas\s+as\s+)?(?:seu\s+|sua\s+|suas\s+|teu\s+|tua\s+)?"
    r"(?:prompt|instrucoes|instrucao|regras\s+internas|configuracao|programacao|system\s+prompt|mensagem\s+de\s+sistema|"
    r"texto\s+(?:acima|inicial|de\s+sistema))"
    r"|\bsystem\s+prompt\b|\bprompt\s+do\s+sistema\b|\bmodo\s+(?:desenvolvedor|developer|dan|deus)\b|\bdeveloper\s+mode\b"
    r"|\bjailbreak\b|\bsudo\b|<\s*/?\s*system\s*>|\[\s*system\s*\]|\bnovas\s+instrucoes\s*:"
    r"|^\W*(?:system|admin|developer|assistant)\s*:|\b(?:mensagem|instrucao|ordem|comando)\s+do\s+sistema\s*:"
)

_PRICE = re.compile(
    r"\bquanto\s+(?:custa|custaria|custam|sai|saii|fica|ficaria|e|eh|vai\s+(?:ficar|sair|custar)|voces\s+cobram|"
    r"vcs\s+cobram|cobram|cobra|e\s+o\s+valor|seria)\b"
    r"|\bqual\s+(?:e\s+|eh\s+|seria\s+)?(?:o\s+)?(?:preco|valor|custo|investimento)\b|\b(?:tabela|lista)\s+de\s+precos?\b"
    r"|\b(?:voces|vcs|vc|voce)\s+cobra[mr]?\b|\bcusta\s+quanto\b|\b(?:sai|fica)\s+(?:por\s+|em\s+)?quanto\b"
    r"|\bdesconto\w*|\bmais\s+barat\w+|\b(?:faz|fazer|faria|sai|consegue|consegue\s+fazer|"
    r"deixa|deixar|fecha|fechar)\s+(?:por|a|em)\s+(?:r\$\s*)?\d|\bbaixa\w*\s+(?:o\s+)?(?:preco|valor)|\babaixa\w*"
    r"|\bcondic\w+\s+especia\w*|\bmelhor\s+(?:preco|valor|condicao|proposta)\b"
    r"|\bprecinho\b|\bchorar\b"
)
# Words that are about our prices only when asked ("tem promoção?"); a need may name them too
# ("quero divulgar as promoções da loja", "parcelar as vendas dos meus clientes").
_PRICE_WORD = re.compile(
    r"\b(?:precos?|valores|mensalidade|investimento|promoc\w*|cupo[mn]s?|parcel\w*|gratis|de\s+graca|cortesia)\b"
)
_ASKING = re.compile(
    r"\b(?:saber|ver|me\s+passa|me\s+manda|me\s+envia|tabela|qual|quais|quanto|informar|conhecer|"
    r"(?:da|tem)\s+(?:pra|para|como)|(?:voces|vcs)\s+(?:tem|fazem|dao|aceitam)|aceita[mr]?|consigo)\b"
)
_QUOTE = re.compile(
    r"\b(?:quero|queria|gostaria\s+de|preciso\s+de|precisava\s+de|pode(?:ria)?(?:\s+me)?\s+(?:mandar|enviar|passar|fazer)|"
    r"me\s+(?:manda|mande|envia|envie|passa|passe|faz|faca)|manda|mande|envia|envie|solicito|solicitar|pedir|"
    r"fazer|receber|aguardo)\s+(?:um\s+|uma\s+|o\s+|a\s+)?(?:orcamento|proposta|cotacao|orcamentos|propostas)\b"
    r"|\b(?:orcamento|proposta|cotacao)\s+(?:pra\s+mim|para\s+mim|formal|por\s+escrito|detalhad\w+)\b"
)
_BUDGET_TALK = re.compile(r"\b(?:meu|nosso|o)\s+orcamento\s+(?:eh|e|seria|fica|de)\b|\borcamento\s+de\s+(?:r\$\s*)?\d")

_DECLINE = re.compile(
    r"\bprefiro\s+nao\b|\b(?:nao\s+(?:quero|posso|vou|gostaria\s+de)|nao\s+me\s+sinto\s+a\s+vontade\s+(?:de|em|para))\s+"
    r"(?:te\s+|lhe\s+)?(?:dizer|informar|falar|responder|passar|contar|revelar|divulgar|compartilhar|abrir)\b"
    r"|\bdepois\s+(?:eu\s+|a\s+gente\s+)?(?:vejo|te\s+falo|te\s+digo|falo|digo|vemos|ve|informo|passo|conto|respondo|"
    r"decido|penso)\b|\b(?:eh|e|isso\s+e|isso\s+eh)\s+confidencial\b|\bsigilo\w*|\bsem\s+comentarios\b"
    r"|^\s*(?:pula|pular|passa|proxima|proxima\s+pergunta|pode\s+pular|outra\s+pergunta)\b|\bnao\s+e\s+da\s+sua\s+conta\b"
    r"|\bprefiro\s+(?:falar|ver|tratar)\s+(?:isso\s+)?(?:com|depois|pessoalmente)\b"
)
_UNKNOWN = re.compile(
    r"\bnao\s+(?:sei|sabemos|tenho\s+(?:ideia|certeza|nocao|como\s+saber))\b|\bnao\s+faco\s+(?:ideia|nocao)\b|"
    r"\bsei\s+la\b|\bsla\b|^\s*depende\b|\bainda\s+(?:nao\s+)?(?:defini\w*|estou\s+vendo|to\s+vendo|vendo|avaliando|"
    r"pensando|decidindo|sem\s+definicao)\b|\b(?:a|em)\s+definir\b|\bsem\s+(?:orcamento|valor|verba)\s+definid\w+|"
    r"\bnao\s+(?:defini|decidi|pensei|calculei)\b|\bnao\s+tenho\s+(?:um\s+)?(?:orcamento|valor|verba|prazo\s+definido)\b|"
    r"\bnao\s+sei\s+(?:dizer|informar|ainda|te\s+dizer)\b|\bvou\s+ver\s+ainda\b|^\s*\?+\s*$|^\s*hm+\s*$"
)
_LATER = re.compile(
    r"\b(?:me\s+)?(?:chama|chame|chamar|liga|ligue|ligar|procura|procure|procurar|retornar|manda\s+mensagem|fala\s+comigo|falamos|fale\s+comigo|"
    r"retorna|retorne|volta\s+a\s+falar|entra\s+em\s+contato|entre\s+em\s+contato)\s+(?:comigo\s+)?"
    r"(?:depois|mais\s+tarde|amanha|outro\s+dia|outra\s+hora|semana\s+que\s+vem|na\s+proxima\s+semana|mes\s+que\s+vem|"
    r"segunda|terca|quarta|quinta|sexta|no\s+dia|dia\s+\d|em\s+\d|daqui)"
    r"|\b(?:agora|no\s+momento)\s+(?:nao\s+(?:posso|consigo|da)|estou\s+ocupad\w|to\s+ocupad\w|estou\s+dirigindo|"
    r"to\s+dirigindo|estou\s+em\s+reuniao|to\s+em\s+reuniao)\b|\b(?:estou|to)\s+(?:ocupad\w|dirigindo|em\s+reuniao)\b"
    r"|\bpode\s+ser\s+(?:depois|mais\s+tarde|amanha)\b"
)
# "quem fala?", "quem é você?": who is on the other side (the greeting says it on the first turn).
_ASKS_WHO = re.compile(
    r"^\W*(?:oi\W+|ola\W+)?(?:quem\s+(?:fala|e|eh|esta\s+falando|ta\s+falando|me\s+(?:mandou|chamou)|e\s+(?:voce|vc))|"
    r"(?:com\s+)?quem\s+(?:eu\s+)?(?:falo|to\s+falando|estou\s+falando))\b(?:\s+(?:ai|aqui|ae))?\W*$"
)
# "não tenho interesse", "não me interessa, obrigado": a polite no to the whole offer (not a STOP:
# agent.optout keeps "não tenho interesse agora" out on purpose).
_NOT_INTERESTED = re.compile(
    r"^\W*(?:(?:nao|n)\W+)?(?:(?:obrigad[oa]|obg|valeu)\W+)?(?:mas\s+)?(?:(?:eu|a\s+gente)\s+)?"
    r"(?:nao\s+tenho\s+(?:mais\s+)?interesse|sem\s+interesse|nao\s+(?:me\s+)?interessa\w*|"
    r"nao\s+(?:quero|preciso)\s+(?:de\s+)?nada|nao\s+(?:estou|to|estamos)\s+interessad[oa]s?)"
    r"(?:\s+(?:no\s+momento|agora|por\s+enquanto|por\s+ora|nao))?"
    r"(?:\W+(?:mas\s+)?(?:obrigad[oa]|obg|valeu|vlw|agradeco)(?:\s+(?:mesmo|assim|pelo\s+contato))?)?\W*$"
)
_SMALL_TALK_QUESTION = re.compile(
    r"\b(?:tudo\s+(?:bem|bom|certo|joia|tranquilo)|como\s+vai|como\s+(?:voce|vc)\s+esta)\b"
)
_AND_YOU = re.compile(r"\b(?:tudo\s+(?:bem|bom|certo|joia|tranquilo)|bem|otimo|beleza)\W*e\s+(?:voce|vc)\b")
_THANKS = re.compile(r"\b(?:obrigad[oa]|obg|brigad[oa]|valeu|vlw|agradeco|grat[oa])\b")
_BROWSING = re.compile(
    r"\b(?:so|apenas|somente)\s+(?:estou\s+|to\s+|tava\s+|estava\s+)?(?:pesquisando|olhando|dando\s+uma\s+olhada|"
    r"cotando|conhecendo|curioso|curiosa|vendo)\b|\bpor\s+curiosidade\b|\bcuriosidade\b|\bsem\s+compromisso\b"
)


def asks_for_human(text: str) -> bool:
    """ "quero falar com um atendente", "me passa pra um humano", "não quero falar com robô", "tem alguém
    aí de verdade?", "pode me ligar?" (a call only a person can make; "me liga amanhã" is a follow-up)."""
    folded = fold(text or "")
    for match in (*_HUMAN_REQUEST.finditer(folded), *_CALL_REQUEST.finditer(folded)):
        if _NEGATED_HUMAN.search(folded[: match.start()]):
            continue  # "não preciso falar com um atendente"
        if match.re is _CALL_REQUEST and wants_later(text):
            continue
        return True
    return False


def asks_for_a_call(text: str) -> bool:
    """ "pode me ligar?", "prefiro resolver por telefone": a person has to call (now, not later)."""
    folded = fold(text or "")
    return any(not _NEGATED_HUMAN.search(folded[: match.start()]) for match in _CALL_REQUEST.finditer(folded)) and (
        not wants_later(text)
    )


def asks_if_bot(text: str) -> bool:
    """ "você é um robô?": answered honestly, not a handoff by itself."""
    return bool(_ASKS_IF_BOT.search(fold(text or "")))


def is_injection(text: str) -> bool:
    """Attempts to change the agent's role or read its instructions."""
    return bool(_INJECTION.search(fold(text or "")))


def asks_price(text: str) -> bool:
    """Questions about prices, discounts and payment terms ("quanto custa?", "faz por 500?").

    "preço" alone is a price question only when asked ("qual o preço?", "me passa os valores"):
    "Mercado Bom Preço" is a company name.
    """
    folded = fold(text or "")
    asked = "?" in folded or bool(_ASKING.search(folded))
    found = bool(_PRICE.search(folded)) or (asked and bool(_PRICE_WORD.search(folded)))
    return found and not asks_quote(text)


def asks_quote(text: str) -> bool:
    """Asking for a proposal ("me manda uma proposta", "quero um orçamento"), not stating a budget."""
    folded = fold(text or "")
    return bool(_QUOTE.search(folded)) and not _BUDGET_TALK.search(folded)


def declines(text: str) -> bool:
    """The customer prefers not to answer ("prefiro não dizer", "depois eu vejo")."""
    return bool(_DECLINE.search(fold(text or "")))


def does_not_know(text: str) -> bool:
    """The customer has no answer yet ("não sei", "ainda não defini", "depende")."""
    return bool(_UNKNOWN.search(fold(text or "")))


def wants_later(text: str) -> bool:
    """The customer asks to be contacted at another time ("me chama amanhã", "agora não posso")."""
    return bool(_LATER.search(fold(text or "")))


def is_small_talk(text: str) -> bool:
    """Greetings, thanks and acknowledgements with nothing else in them."""
    return is_filler(text)


def asks_how_are_you(text: str) -> bool:
    """ "tudo bem?", "tudo bem e vc": a courtesy to return, not a question for a person."""
    folded = fold(text or "")
    return ("?" in folded and bool(_SMALL_TALK_QUESTION.search(folded))) or bool(_AND_YOU.search(folded))


def thanks(text: str) -> bool:
    return bool(_THANKS.search(fold(text or "")))


def is_question(text: str) -> bool:
    """A question to us (ends with "?"), which the playbook cannot answer and leaves to a person."""
    return (text or "").strip().endswith("?")


def is_browsing(text: str) -> bool:
    """Low buying intent: "só estou pesquisando", "por curiosidade"."""
    return bool(_BROWSING.search(fold(text or "")))


def asks_who(text: str) -> bool:
    """ "quem fala?", "com quem eu falo?": who is writing (answered like "você é um robô?")."""
    return bool(_ASKS_WHO.search(fold(text or "")))


def not_interested(text: str) -> bool:
    """A polite no to the offer as a whole ("não tenho interesse, obrigada"), and nothing else."""
    return bool(_NOT_INTERESTED.search(fold(text or "")))


def affirms(text: str) -> bool:
    """A plain yes ("sim", "quero sim", "pode ser, por favor"), with nothing else in it."""
    return bool(_AFFIRMS.search(fold(text or "")))
