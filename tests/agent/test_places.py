import pytest

from agent.places import find_place, is_known_place, place_from_answer


@pytest.mark.parametrize(
    ("text", "city", "uf"),
    [
        ("sou de Campinas/SP", "Campinas/SP", "SP"),
        ("sou de campinas e preciso de um ERP", "Campinas/SP", "SP"),
        ("moro em BH", "Belo Horizonte/MG", "MG"),
        ("aqui em Recife", "Recife/PE", "PE"),
        ("moro em sao jose dos campos", "São José dos Campos/SP", "SP"),
        ("Empresa em Sorocaba - SP", "Sorocaba/SP", "SP"),
        ("somos de Floripa", "Florianópolis/SC", "SC"),
        ("sou do Rio", "Rio de Janeiro/RJ", "RJ"),
        ("moro em Pindamonhangaba", "Pindamonhangaba", ""),
        ("Itu/sp", "Itu/SP", "SP"),
        ("tenho uma loja em Campinas", "Campinas/SP", "SP"),
    ],
)
def test_cities_with_their_state(text, city, uf):
    place = find_place(text)
    assert place is not None
    assert (place.city, place.uf) == (city, uf)


def test_a_state_alone_is_no_city():
    place = find_place("sou da bahia")
    assert (place.city, place.uf) == ("", "BA")


@pytest.mark.parametrize(
    "text", ["sou da Acme", "estou em reunião", "sou de uma empresa", "trabalho na Acme", "aqui em casa", "até o natal"]
)
def test_phrases_that_are_not_places(text):
    assert find_place(text) is None


def test_the_span_covers_the_written_state():
    text = "sou de Campinas/SP, preciso"
    place = find_place(text)
    assert text[place.start : place.end] == "Campinas/SP"


def test_a_bare_answer_to_the_city_question():
    assert place_from_answer("Campinas").city == "Campinas/SP"
    assert place_from_answer("Recife - PE").city == "Recife/PE"
    assert place_from_answer("não sei") is None


def test_known_places():
    assert is_known_place("Bahia") and is_known_place("rio") and is_known_place("Campinas")
    assert not is_known_place("Acme")


def test_the_introducing_words_are_part_of_what_was_said():
    text = "meu email: cris@papelaria.com.br, sou de Belo Horizonte - MG"
    place = find_place(text)
    assert place.city == "Belo Horizonte/MG"
    assert text[place.phrase_start : place.end] == "sou de Belo Horizonte - MG"
    assert text[place.start : place.end] == "Belo Horizonte - MG"
