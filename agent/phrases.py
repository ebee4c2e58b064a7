"""Customer-facing text of the offline playbook, in Brazilian Portuguese.

Kept apart from the flow so wording can change without touching the logic. Each entry is one
short WhatsApp bubble. None of them quotes a price, a discount, a link or a phone number: prices
come only from the profile's `allowed_prices`, everything else is for a person.
"""

from __future__ import annotations

GREETING_WITH_NAME = "Olá, {name}! Tudo bem? Aqui é a assistente virtual da {company} 😊"
GREETING_WITHOUT_NAME = "Olá! Tudo bem? Aqui é a assistente virtual da {company} 😊"
INTRO = "Vou te fazer algumas perguntas rápidas para entender como podemos te ajudar."

NAME_ACK = "Prazer, {name}!"
NAME_AND_MORE_ACK = "Prazer, {name}! Já anotei o que você me contou. 👍"
SEVERAL_ACK = "Perfeito, já anotei o que você me contou! 👍"
# Rotated by question position so consecutive answers don't get the same reply.
ACKS = ("Perfeito!", "Anotado! 👍", "Entendi!", "Ótimo!")
# "Anotei {what}." for facts recorded on the way, by lead field key.
EXTRA_ACK = "Anotei {what}. 👍"
EXTRA_NAMES = {"email": "seu e-mail", "city": "sua cidade", "uf": "seu estado", "cnpj": "o CNPJ da empresa"}

REASK_BY_KIND = {
    "name": "Desculpe, não consegui pegar o seu nome. Como posso te chamar?",
    "email": "Hmm, não encontrei um e-mail na sua mensagem. Pode me enviar no formato nome@empresa.com.br?",
    "money": "Tudo bem! Um valor aproximado já me ajuda, por exemplo: até R$ 5 mil, entre R$ 5 e 20 mil, "
    "ou acima de R$ 20 mil?",
    "number": "Não consegui entender o número. Pode me responder só com o número, por favor?",
    "date": "Tranquilo! Me diz pelo menos uma ideia de prazo: é para este mês, para os próximos 3 meses "
    "ou mais para frente?",
    "cnpj": "Não consegui validar esse CNPJ. Pode conferir e me enviar de novo? (14 números)",
    "city": "Não consegui entender a cidade. De qual cidade você fala? Por exemplo: Campinas/SP",
}
REASK_GENERIC = "Desculpe, não entendi bem. Pode me responder de novo? {question}"
SKIP_AFTER_REASK = "Sem problemas, vamos seguir."
# Before a question the customer already passed over twice (they kept telling other things).
STILL_OPEN = "Antes de seguir, me ajuda com esta:"
DECLINED = "Sem problemas! Nosso especialista conversa sobre isso com você depois."

HOW_ARE_YOU_REPLY = "Tudo ótimo por aqui, obrigada! 😊"
THANKS_REPLY = "Por nada! Qualquer coisa, é só chamar. 😊"
IS_BOT_REPLY = "Sou a assistente virtual da {company}. Se preferir falar com uma pessoa, é só me dizer!"
INJECTION_REFUSAL = (
    "Não consigo mudar a forma como atendo nem compartilhar minhas orientações internas, "
    "mas sigo aqui para te ajudar! 😊"
)
PRICE_WITH_ALLOWED = "Posso te adiantar: {prices}. Descontos e condições especiais quem vê é o nosso especialista."
PRICE_WITHOUT_ALLOWED = (
    "Valores e condições quem passa é o nosso especialista, com uma proposta certinha para o seu caso."
)
QUOTE_ACK = "Combinado! Um especialista vai preparar a sua proposta e te enviar por aqui."
QUOTE_ALREADY = "Sua proposta já está com o nosso especialista, ele te envia por aqui."
QUESTION_FOR_HUMAN = "Boa pergunta! Vou deixar anotada para o nosso especialista te responder."
BROWSING_REPLY = "Fique à vontade! Com algumas respostas rápidas já consigo te mostrar como podemos ajudar."

MEDIA_FAILED = {
    "audio": "Não consegui ouvir o seu áudio 😕 Pode me escrever, por favor?",
    "image": "Não consegui ver a sua imagem 😕 Pode me escrever o que ela mostra?",
    "video": "Não consegui ver o seu vídeo 😕 Pode me escrever, por favor?",
    "document": "Não consegui abrir o seu documento 😕 Pode me escrever o que precisa?",
}
MEDIA_FAILED_GENERIC = "Não consegui abrir o que você enviou 😕 Pode me escrever, por favor?"

FOLLOWUP_ACK = "Combinado! Volto a te chamar {when}. 😊"
FOLLOWUP_LATER = "mais tarde"

HUMAN_REQUEST_OPEN = (
    "Claro! Já chamei uma pessoa do nosso time, que continua a conversa com você por aqui em instantes."
)
HUMAN_REQUEST_CLOSED = (
    "Claro! Já avisei o nosso time. Estamos fora do horário de atendimento; uma pessoa te responde {when}."
)
CALL_REQUEST_OPEN = "Claro! Já avisei o nosso time: uma pessoa vai entrar em contato com você em instantes."
CALL_REQUEST_CLOSED = (
    "Claro! Já avisei o nosso time. Estamos fora do horário de atendimento; "
    "uma pessoa entra em contato com você {when}."
)
NOT_INTERESTED_REPLY = "Tudo bem, agradeço o retorno! Se mudar de ideia, é só me chamar por aqui. 😊"

THANKS_WITH_NAME = "Tudo anotado, {name}! Agradeço pelas informações."
THANKS_WITHOUT_NAME = "Tudo anotado! Agradeço pelas informações."
HANDOFF = "Um especialista da {company} vai continuar a conversa com você por aqui em instantes."
HANDOFF_CLOSED = "Estamos fora do horário de atendimento agora: um especialista da {company} fala com você {when}."
# When the next opening is unknown.
WHEN_OPEN_AGAIN = "assim que o atendimento abrir"
CLOSING = "Nosso time vai analisar e te retorna por aqui. Se quiser falar com uma pessoa antes, é só me dizer!"
ALREADY_HANDED_OFF = "Já passei suas informações para o nosso time. Um especialista vai falar com você em breve!"
ALREADY_DONE = (
    "Anotado! Nosso time já tem as suas informações e te retorna por aqui. "
    "Se quiser falar com uma pessoa agora, é só me dizer."
)

# Promises nothing more: after an opt-out nothing is ever sent again, not even an answer.
OPT_OUT_CONFIRM = "Tudo bem, você não vai mais receber mensagens nossas. Obrigado pela atenção!"
