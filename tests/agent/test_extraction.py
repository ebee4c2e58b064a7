import pytest

from agent.extraction import extract_name, extract_value, find_email, parse_amount


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("R$ 1.500,00", 1500),
        ("uns 2 mil", 2000),
        ("5 mil", 5000),
        ("10k", 10000),
        ("1,5 mil", 1500),
        ("R$ 2.000 por mês", 2000),
        ("2 milhões", 2_000_000),
        ("1.5", 1.5),
        ("R$ 99,90", 99.9),
        ("1500reais", 1500),
    ],
)
def test_parse_amount_reads_brazilian_money(text, expected):
    assert parse_amount(text) == expected


@pytest.mark.parametrize("text", ["ainda não sei", "", "depende"])
def test_parse_amount_without_a_number_is_none(text):
    assert parse_amount(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("meu nome é maria souza", "Maria Souza"),
        ("Oi! Me chamo joão da silva, prazer", "João da Silva"),
        ("sou o carlos", "Carlos"),
        ("Sou Ana", "Ana"),
        ("É a Beatriz 😊", "Beatriz"),
        ("PEDRO", "Pedro"),
    ],
)
def test_extract_name_strips_introductions_and_title_cases(text, expected):
    assert extract_name(text) == expected


def test_extract_name_without_letters_is_none():
    assert extract_name("👍 123") is None


def test_find_email_returns_the_lowercased_address():
    assert find_email("pode mandar para Ana.Souza@Empresa.com.br.") == "ana.souza@empresa.com.br"
    assert find_email("sem e-mail por aqui") is None


def test_extract_value_dispatches_on_field_type():
    assert extract_value("email", "é joao@acme.com") == "joao@acme.com"
    assert extract_value("email", "não tenho") is None
    assert extract_value("number", "somos 15 pessoas") == 15
    assert extract_value("text", "  Padaria Pão Quente  ") == "Padaria Pão Quente"
    assert extract_value("text", "   ") is None
