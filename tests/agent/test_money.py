import pytest

from agent.money import find_money, format_brl, parse_amount, parse_number


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("R$ 1.500,00", 1500),
        ("uns 2 mil", 2000),
        ("2mil", 2000),
        ("1.5k", 1500),
        ("1,5 mil", 1500),
        ("10k", 10000),
        ("R$ 2.000 por mês", 2000),
        ("R$ 50 mil/mês", 50000),
        ("R$ 5.000/mês", 5000),
        ("1.200/ano", 1200),
        ("2 milhões", 2_000_000),
        ("R$ 99,90", 99.9),
        ("1500reais", 1500),
        ("dois mil reais", 2000),
        ("mil e quinhentos", 1500),
        ("dois mil e quinhentos reais", 2500),
        ("quinhentos reais", 500),
        ("meio milhão", 500_000),
        ("dois milhões e meio", 2_500_000),
        ("até 10 mil", 10000),
        ("acima de 20 mil", 20000),
        ("tenho uns 30 mil pra investir", 30000),
    ],
)
def test_amounts_in_brazilian_portuguese(text, expected):
    assert parse_amount(text) == expected


@pytest.mark.parametrize(
    ("text", "lower_bound"),
    [
        ("entre 5 e 10 mil", 5000),
        ("de 5 a 10 mil", 5000),
        ("5 a 10k", 5000),
        ("R$ 5.000 - R$ 10.000", 5000),
        ("entre cinco e dez mil", 5000),
        ("de 800 a 1,2 mil", 800),
        ("10 mil a 15 mil", 10000),
    ],
)
def test_a_range_gives_its_lower_bound(text, lower_bound):
    found = find_money(text)
    assert found is not None
    assert found.value == lower_bound
    assert found.cued is True


@pytest.mark.parametrize(
    "text",
    ["10 funcionários", "em 15 dias", "5 a 7 dias", "meu whats 11 99999-8888", "em 2026", "15/01", "20%", "um sistema"],
)
def test_counts_dates_and_phones_are_not_money(text):
    assert find_money(text, bare_ok=True) is None


def test_a_bare_number_is_money_only_when_the_caller_allows_it():
    assert find_money("5000") is None
    assert find_money("5000", bare_ok=True).value == 5000
    assert find_money("uns 5000").value == 5000  # "uns" is a cue


def test_document_numbers_are_not_money():
    assert find_money("cnpj 11.222.333/0001-81", bare_ok=True) is None
    assert find_money("meu cpf 12345678909", bare_ok=True) is None


@pytest.mark.parametrize("text", ["ainda não sei", "", "depende"])
def test_text_without_a_number_has_no_amount(text):
    assert parse_amount(text) is None


def test_parse_number_reads_any_count():
    assert parse_number("somos 15 pessoas") == 15
    assert parse_number("1.5") == 1.5
    assert parse_number("nenhum") is None


def test_format_brl():
    assert format_brl(1500) == "R$ 1.500"
    assert format_brl(99.9) == "R$ 99,90"
    assert format_brl(1234567.5) == "R$ 1.234.567,50"
