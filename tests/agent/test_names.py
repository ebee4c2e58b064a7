import pytest

from agent.names import bare_known_name, clean_push_name, extract_name, find_introduced_name, leading_known_name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("meu nome é maria souza", "Maria Souza"),
        ("meu nome eh jose carlos", "Jose Carlos"),
        ("Oi! Me chamo joão da silva, prazer", "João da Silva"),
        ("sou o carlos", "Carlos"),
        ("Sou Ana", "Ana"),
        ("É a Beatriz 😊", "Beatriz"),
        ("PEDRO", "Pedro"),
        ("ana paula, e vc?", "Ana Paula"),
        ("Bom dia! Ana", "Ana"),
        ("Ana tudo bem", "Ana"),
        ("pode me chamar de Zé", "Zé"),
        ("Nome: Ana Lima", "Ana Lima"),
        ("Maria de Lourdes", "Maria de Lourdes"),
        ("José dos Santos", "José dos Santos"),  # a surname, though Santos is also a city
        ("sou a Ana de Campinas", "Ana"),
        ("Ana de São Paulo", "Ana"),
        ("Carla da Acme", "Carla"),
    ],
)
def test_extract_name_from_an_answer(text, expected):
    assert extract_name(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "👍 123",
        "quero um orçamento",
        "não",
        "prefiro não dizer",
        "Oi",
        "sou o responsável pela compra",
        "moro em Curitiba",
    ],
)
def test_extract_name_without_a_name_is_none(text):
    assert extract_name(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("aqui é a Carla da Acme", "Carla"),
        ("sou a Ana da Acme, preciso de um ERP", "Ana"),
        ("Oi, João aqui da Acme", "João"),
        ("me chamo Ana Paula", "Ana Paula"),
        ("sou ana", "Ana"),  # a known first name without an article
    ],
)
def test_self_introductions_anywhere(text, expected):
    assert find_introduced_name(text).name == expected


def test_sou_with_an_unknown_word_is_no_introduction():
    assert find_introduced_name("sou de Campinas") is None
    assert find_introduced_name("sou autônomo") is None


def test_a_known_first_name_before_a_company():
    assert leading_known_name("Fábio da Fábio Reformas").name == "Fábio"
    assert leading_known_name("Eduardo Martins, da Metalúrgica Forte").name == "Eduardo Martins"
    assert leading_known_name("Padaria do Zé") is None


@pytest.mark.parametrize(
    ("push_name", "expected"),
    [
        ("Maria Souza 🌸", "Maria Souza"),
        ("🌸🌸", ""),
        ("+55 11 99999-9999", ""),
        ("Dr. João", "João"),
        ("~Ana~", "Ana"),
        ("ANA PAULA", "Ana Paula"),
        ("j", ""),
        ("", ""),
    ],
)
def test_push_names_are_cleaned_for_a_greeting(push_name, expected):
    assert clean_push_name(push_name) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sou a Dra. Márcia", "Márcia"),
        ("Dr Paulo Souza", "Paulo Souza"),
        ("ah ok. Simone", "Simone"),
        ("tá, é Pedro", "Pedro"),
        ("oi! ah ok. Simone", "Simone"),
    ],
)
def test_titles_and_interjections_before_a_name(text, expected):
    assert extract_name(text) == expected


@pytest.mark.parametrize("text", ["Mercadinho São Jorge", "Padaria do Zé", "Studio Bela Pele", "não sei", "ok"])
def test_a_business_is_not_a_persons_name(text):
    assert extract_name(text) is None


def test_a_message_that_is_only_a_known_name():
    assert bare_known_name("Wagner").name == "Wagner"
    assert bare_known_name("oi, Ana Paula Souza!").name == "Ana Paula Souza"
    assert bare_known_name("Maria Padaria") is None
    assert bare_known_name("Marco") is None  # not a first name we know (and a month)
    assert bare_known_name("Paulo, da Acme") is None  # more than a name
