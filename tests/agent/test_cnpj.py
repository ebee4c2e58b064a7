import pytest

from agent.cnpj import find_cnpj, is_valid_cnpj


@pytest.mark.parametrize("text", ["11222333000181", "11.222.333/0001-81", "CNPJ: 11 222 333 0001 81"])
def test_a_valid_cnpj_is_found_and_formatted(text):
    assert find_cnpj(text).formatted == "11.222.333/0001-81"


@pytest.mark.parametrize("text", ["11.222.333/0001-82", "00000000000000", "1122233300018", "sem cnpj"])
def test_an_invalid_cnpj_is_not_found(text):
    assert find_cnpj(text) is None


def test_check_digits():
    assert is_valid_cnpj("11444777000161")
    assert not is_valid_cnpj("11444777000162")
    assert not is_valid_cnpj("1144477700016a")
