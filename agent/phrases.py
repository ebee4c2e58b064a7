"""Customer-facing text of the offline playbook, in Brazilian Portuguese.

Kept apart from the flow so wording can change without touching the logic. Each entry is one
short WhatsApp bubble.
"""

from __future__ import annotations

GREETING_WITH_NAME = "Olá, {name}! Tudo bem? Aqui é a assistente virtual da {company} 😊"
GREETING_WITHOUT_NAME = "Olá! Tudo bem? Aqui é a assistente virtual da {company} 😊"
INTRO = "Vou te fazer algumas perguntas rápidas para entender como podemos te ajudar."

NAME_ACK = "Prazer, {name}!"
# Rotated by question position so consecutive answers don't get the same reply.
ACKS = ("Perfeito!", "Anotado! 👍", "Entendi!", "Ótimo!")

REASK_BY_TYPE = {
    "name": "Desculpe, não consegui pegar o seu nome. Como posso te chamar?",
    "email": "Hmm, não encontrei um e-mail na sua mensagem. Pode me enviar no formato nome@empresa.com.br?",
    "money": "Não consegui entender o valor. Pode me dizer um valor aproximado? Por exemplo: R$ 5.000",
    "number": "Não consegui entender o número. Pode me responder só com o número, por favor?",
}
REASK_GENERIC = "Desculpe, não entendi bem. Pode me responder de novo? {question}"
SKIP_AFTER_REASK = "Sem problemas, vamos seguir."

THANKS_WITH_NAME = "Tudo anotado, {name}! Agradeço pelas informações."
THANKS_WITHOUT_NAME = "Tudo anotado! Agradeço pelas informações."
HANDOFF = "Um especialista da {company} vai continuar a conversa com você por aqui em instantes."
ALREADY_HANDED_OFF = "Já passei suas informações para o nosso time. Um especialista vai falar com você em breve!"
