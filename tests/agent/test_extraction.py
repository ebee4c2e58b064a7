from datetime import date

import pytest

from agent.companies import company_from_answer, find_company
from agent.context import QualificationField
from agent.extraction import (
    answer_for,
    extract_name,
    extract_value,
    field_kind,
    find_email,
    find_need,
    parse_amount,
    read_message,
)

TODAY = date(2025, 3, 10)


def test_parse_amount_and_extract_name_keep_their_contract():
    assert parse_amount("R$ 1.500,00") == 1500
    assert parse_amount("uns 2 mil") == 2000
    assert extract_name("meu nome é maria souza") == "Maria Souza"
    assert extract_name("👍 123") is None


def test_find_email_returns_the_lowercased_address():
    assert find_email("pode mandar para Ana.Souza@Empresa.com.br.") == "ana.souza@empresa.com.br"
    assert find_email("sem e-mail por aqui") is None


def test_extract_value_dispatches_on_field_type():
    assert extract_value("email", "é joao@acme.com") == "joao@acme.com"
    assert extract_value("email", "não tenho") is None
    assert extract_value("number", "somos 15 pessoas") == 15
    assert extract_value("money", "uns 2 mil") == 2000
    assert extract_value("date", "mês que vem", today=TODAY) == "2025-04-30 (mês que vem)"
    assert extract_value("text", "  Padaria Pão Quente  ") == "Padaria Pão Quente"
    assert extract_value("text", "   ") is None


def test_a_whole_introduction_volunteers_every_fact():
    reading = read_message(
        "Oi, sou a Ana da Acme Ltda, preciso de um ERP pra mês que vem, orçamento de 50 mil. "
        "Meu e-mail é Ana@Acme.com.br, CNPJ 11.222.333/0001-81, sou de Campinas/SP",
        TODAY,
    )

    assert reading.facts == {
        "email": "ana@acme.com.br",
        "cnpj": "11.222.333/0001-81",
        "name": "Ana",
        "company": "Acme Ltda",
        "city": "Campinas/SP",
        "uf": "SP",
        "date": "2025-04-30 (mês que vem)",
        "money": 50000,
        "need": "preciso de um ERP",
    }


def test_an_amount_inside_another_sentence_is_not_a_budget():
    assert "money" not in read_message("quero reduzir minha conta de luz de R$ 800", TODAY).facts
    assert read_message("uns 5 mil", TODAY).facts["money"] == 5000
    assert read_message("na verdade são 20 mil", TODAY).facts["money"] == 20000
    assert read_message("tenho 3 mil pra investir", TODAY).facts["money"] == 3000


def test_haggling_is_not_a_budget_unless_a_budget_word_says_so():
    assert "money" not in read_message("faz por R$ 100?", TODAY, price_talk=True).facts
    assert read_message("tem desconto? meu orçamento é 3 mil", TODAY, price_talk=True).facts["money"] == 3000


def test_everyday_time_words_are_kept_apart_from_deadlines():
    reading = read_message("hoje vi o anúncio de vocês", TODAY)
    assert "date" not in reading.facts
    assert reading.weak_deadline is not None


@pytest.mark.parametrize(
    ("text", "company"),
    [
        ("trabalho na construtora alfa", "Construtora Alfa"),
        ("minha empresa é a Vila Verde", "Vila Verde"),
        ("Sou dono da padaria pão quente", "Padaria Pão Quente"),
        ("empresa Pão Quente Ltda", "Pão Quente Ltda"),
        ("Acme Indústria e Comércio Ltda", "Acme Indústria e Comércio Ltda"),
        ("sou do financeiro da Acme", "Acme"),
        ("Empresa: Lima Contabilidade. E-mail: x@y.com", "Lima Contabilidade"),
        ("Trabalho na Beta S.A. e preciso de um ERP", "Beta S.A."),
        ("sou autônomo", "Autônomo"),
        ("é pra minha casa, pessoa física", "Pessoa física"),
    ],
)
def test_companies_named_in_a_sentence(text, company):
    assert find_company(text)[0] == company


@pytest.mark.parametrize("text", ["sou da Bahia", "sou do Rio", "a empresa fica em Campinas", "quero vender mais"])
def test_places_and_verbs_are_not_companies(text):
    assert find_company(text) is None


@pytest.mark.parametrize(
    ("text", "company"),
    [("Padaria Pão Quente", "Padaria Pão Quente"), ("somos a Padaria do Zé", "Padaria do Zé"), ("MEI", "Autônomo")],
)
def test_company_as_a_bare_answer(text, company):
    assert company_from_answer(text) == company


@pytest.mark.parametrize(
    ("text", "need"),
    [
        ("preciso de um ERP pra mês que vem", "preciso de um ERP pra mês que vem"),
        ("a gente quer trocar o sistema de vendas", "a gente quer trocar o sistema de vendas"),
        ("queremos automatizar o atendimento, urgente", "queremos automatizar o atendimento"),
    ],
)
def test_needs_stated_with_intent(text, need):
    assert find_need(text)[0] == need


@pytest.mark.parametrize("text", ["quero saber mais", "gostaria de um orçamento", "não quero nada", "quero falar"])
def test_vague_wishes_are_not_needs(text):
    assert find_need(text) is None


def test_answers_skip_what_volunteered_facts_already_took():
    text = "Padaria Pão Quente, meu e-mail é maria@padaria.com.br"
    spans = read_message(text, TODAY).spans

    assert answer_for("company", [text], [spans], TODAY) == "Padaria Pão Quente"


@pytest.mark.parametrize(
    ("kind", "text", "value"),
    [
        ("name", "Ana", "Ana"),
        ("money", "5000", 5000),
        ("money", "não sei", None),
        ("date", "sexta", "2025-03-14 (sexta)"),
        ("date", "quando a obra acabar", "quando a obra acabar"),
        ("date", "dia 20", "2025-03-20 (dia 20)"),
        ("date", "sem pressa", "sem pressa"),
        ("date", "não sei ainda", None),
        ("need", "sim", None),
        ("need", "prefiro não dizer", None),
        ("company", "na verdade são 20 mil", None),
        ("city", "BH", "Belo Horizonte/MG"),
        ("cnpj", "11222333000181", "11.222.333/0001-81"),
    ],
)
def test_answers_to_the_question_just_asked(kind, text, value):
    assert answer_for(kind, [text], [[]], TODAY) == value


@pytest.mark.parametrize(
    ("field", "kind"),
    [
        (QualificationField("timeline", "Para quando?", type="text"), "date"),
        (QualificationField("budget", "Orçamento?", type="money"), "money"),
        (QualificationField("orcamento", "Orçamento?"), "money"),
        (QualificationField("company", "Empresa?"), "company"),
        (QualificationField("segment", "Segmento?"), "text"),
        (QualificationField("when", "Quando?", type="date"), "date"),
    ],
)
def test_field_kind_follows_type_then_key(field, kind):
    assert field_kind(field) == kind


@pytest.mark.parametrize(
    ("text", "company"),
    [
        ("Bom dia, aqui é a Patrícia do RH da Construtora Horizonte", "Construtora Horizonte"),
        ("sou a Ana, do setor de compras da Metalúrgica Beta", "Metalúrgica Beta"),
        ("Sou o Léo 😎 da Barbearia Navalha ✂️", "Barbearia Navalha"),
        ("Sou Ricardo Mendes, gerente de TI da Rede Supermercados Bom Lar.", "Rede Supermercados Bom Lar"),
    ],
)
def test_a_company_after_a_name_a_department_or_an_emoji(text, company):
    assert read_message(text, TODAY).facts["company"] == company


@pytest.mark.parametrize(
    ("text", "company"),
    [
        ("sou MEI", "Autônomo"),
        ("sou microempreendedora individual", "Autônomo"),
        ("trabalho com revenda de cosméticos", None),
        ("tenho uma loja de roupas", None),
    ],
)
def test_company_answers_that_describe_the_person_or_the_trade(text, company):
    assert company_from_answer(text) == company


def test_words_introducing_a_place_are_not_left_for_the_company_answer():
    text = "meu email: cris@papelaria.com.br, sou de Belo Horizonte - MG"
    reading = read_message(text, TODAY)

    assert reading.facts["city"] == "Belo Horizonte/MG"
    assert answer_for("company", [text], [reading.spans], TODAY) is None


@pytest.mark.parametrize("text", ["oi qria sabe mais", "preciso disso o quanto antes", "quero ver como funciona"])
def test_wishes_without_an_object_are_not_needs(text):
    assert "need" not in read_message(text, TODAY).facts


def test_a_need_ending_in_mais_keeps_it():
    assert find_need("sei lá, quero vender mais")[0] == "quero vender mais"


def test_tenho_before_an_amount_is_a_budget():
    assert read_message("tenho 2k", TODAY).facts["money"] == 2000
    assert "money" not in read_message("temos 40 lojas", TODAY).facts
    assert "money" not in read_message("tenho 30 mil clientes", TODAY).facts


def test_a_message_that_is_only_a_name_is_a_weak_name():
    assert read_message("Wagner", TODAY).weak_name == "Wagner"
    assert read_message("Wagner", TODAY).facts == {}
    assert read_message("Mercadinho São Jorge", TODAY).weak_name is None


@pytest.mark.parametrize("text", ["nada específico", "nada", "ainda nada definido"])
def test_nothing_in_particular_is_no_need(text):
    assert answer_for("need", [text], [[]], TODAY) is None
