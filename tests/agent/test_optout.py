import pytest

from agent.optout import is_opt_out


@pytest.mark.parametrize(
    "text",
    [
        "SAIR",
        "sair",
        "Parar",
        "PARE!",
        "stop",
        "STOP 🛑",
        "Quero sair",
        "cancelar por favor",
        "descadastrar",
        "não quero mais receber",
        "NAO QUERO MAIS RECEBER MENSAGENS",
        "Não quero receber mais nada de vocês",
        "por favor me tire da lista",
        "me remova da sua lista de contatos",
        "parem de me mandar mensagem",
        "pare de me enviar essas mensagens",
        "não me mande mais mensagens",
        "quero sair dessa lista",
        "quero me descadastrar",
        "cancelar o recebimento",
        "não tenho interesse, parem de me mandar",
    ],
)
def test_opt_out_requests_are_recognised(text):
    assert is_opt_out(text) is True


@pytest.mark.parametrize(
    "text",
    [
        "não vou parar de crescer",
        "quero sair do aluguel e ter minha loja",
        "pode parar de se preocupar com isso",
        "não quero sair da lista",
        "não precisa me tirar da lista",
        "eu não disse para parar de me mandar",
        "não tenho interesse agora",
        "o sistema para de funcionar às vezes",
        "preciso cancelar meu plano atual com outro fornecedor",
        "Oi, tudo bem?",
        "",
    ],
)
def test_sentences_sharing_a_word_are_not_opt_outs(text):
    assert is_opt_out(text) is False


@pytest.mark.parametrize(
    "text",
    [
        "chega, não me chamem mais",
        "não me procure mais",
        "remover meu número",
        "por favor apague meu contato",
        "não quero mais mensagens",
        "não quero mais contato",
        "chega de mensagem",
        "sai",
        "Sai!",
        "me remove",
        "me tira",
    ],
)
def test_more_opt_out_requests(text):
    assert is_opt_out(text) is True


@pytest.mark.parametrize(
    "text",
    [
        "não precisa remover meu número",
        "nao quero mais contato com robô, quero uma pessoa",
        "ela não me chama mais de chefe",
        "não quero mais esse sistema",
        "sai do aluguel",
        "me tira uma dúvida",
    ],
)
def test_more_sentences_that_are_not_opt_outs(text):
    assert is_opt_out(text) is False
