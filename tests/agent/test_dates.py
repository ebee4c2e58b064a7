from datetime import UTC, date, datetime

import pytest

from agent.dates import deadline_of, find_deadline, local_today, no_urgency

TODAY = date(2025, 3, 10)  # a Monday


@pytest.mark.parametrize(
    ("text", "iso", "phrase"),
    [
        ("mês que vem", "2025-04-30", "mês que vem"),
        ("Para o mês que vem", "2025-04-30", "mês que vem"),
        ("mes q vem", "2025-04-30", "mes q vem"),
        ("semana que vem", "2025-03-21", "semana que vem"),
        ("até dezembro", "2025-12-31", "até dezembro"),
        ("até fevereiro", "2026-02-28", "até fevereiro"),
        ("em 15 dias", "2025-03-25", "em 15 dias"),
        ("daqui a duas semanas", "2025-03-24", "daqui a duas semanas"),
        ("em 3 meses", "2025-06-10", "em 3 meses"),
        ("urgente", "2025-03-10", "urgente"),
        ("o quanto antes", "2025-03-10", "o quanto antes"),
        ("preciso pra ontem", "2025-03-10", "pra ontem"),
        ("assim que possível", "2025-03-10", "assim que possível"),
        ("15/01", "2026-01-15", "15/01"),
        ("até 20/03/2025", "2025-03-20", "20/03/2025"),
        ("fim do mês", "2025-03-31", "fim do mês"),
        ("início de abril", "2025-04-10", "início de abril"),
        ("ano que vem", "2026-12-31", "ano que vem"),
        ("próximo trimestre", "2025-06-30", "próximo trimestre"),
        ("no segundo semestre", "2025-12-31", "segundo semestre"),
    ],
)
def test_deadlines_resolve_to_the_last_day_they_allow(text, iso, phrase):
    found = find_deadline(text, TODAY)
    assert found is not None
    assert found.formatted() == f"{iso} ({phrase})"
    assert found.weak is False


@pytest.mark.parametrize(
    ("text", "iso"),
    [("amanhã", "2025-03-11"), ("dia 20", "2025-03-20"), ("até sexta-feira", "2025-03-14"), ("hoje", "2025-03-10")],
)
def test_everyday_time_words_are_weak_deadlines(text, iso):
    found = find_deadline(text, TODAY)
    assert found is not None
    assert found.date.isoformat() == iso
    assert found.weak is True  # only an answer to "para quando?"


def test_a_name_that_is_also_a_month_or_a_company_age_is_weak():
    assert find_deadline("sou o Marco", TODAY).weak is True
    assert find_deadline("temos 10 anos de mercado", TODAY).weak is True


@pytest.mark.parametrize("text", ["sem pressa", "não é urgente", "quando der", "mais pra frente", "sem previsão"])
def test_no_urgency_is_an_answer_without_a_date(text):
    assert no_urgency(text) is True
    assert find_deadline(text, TODAY) is None


def test_24_7_is_not_a_date():
    assert find_deadline("atendimento 24/7", TODAY) is None


def test_deadline_of_a_stored_timeline():
    assert deadline_of("2025-04-30 (mês que vem)", TODAY) == date(2025, 4, 30)
    assert deadline_of("para o mês que vem", TODAY) == date(2025, 4, 30)
    assert deadline_of("sem pressa", TODAY) is None
    assert deadline_of(123, TODAY) is None
    assert deadline_of("2025-02-30 (typo)", TODAY) is None


def test_local_today_is_the_day_in_brazil():
    # 01:00 UTC on the 11th is still the 10th in São Paulo.
    assert local_today(datetime(2025, 3, 11, 1, 0, tzinfo=UTC)) == date(2025, 3, 10)
    assert local_today(datetime(2025, 3, 11, 1, 0)) == date(2025, 3, 10)  # naive is UTC


@pytest.mark.parametrize(
    ("text", "iso", "phrase"),
    [
        ("antes do natal", "2025-12-24", "antes do natal"),
        ("até o natal", "2025-12-25", "até o natal"),
        ("antes da black friday", "2025-11-27", "antes da black friday"),
        ("pro dia das mães", "2025-05-11", "pro dia das mães"),
        ("até o fim de ano", "2025-12-31", "fim de ano"),
    ],
)
def test_commercial_dates_are_deadlines(text, iso, phrase):
    found = find_deadline(text, TODAY)
    assert found.formatted() == f"{iso} ({phrase})"
    assert found.weak is False


def test_a_commercial_date_already_past_is_next_years():
    assert find_deadline("até o natal", date(2025, 12, 26)).date == date(2026, 12, 25)


def test_natal_alone_may_be_the_city():
    assert find_deadline("Natal", TODAY).weak is True


def test_yesterday_alone_means_it_is_urgent():
    found = find_deadline("ontem 😅", TODAY)
    assert found.formatted() == "2025-03-10 (ontem)"
    assert found.weak is True  # an answer to "para quando?" only
    assert find_deadline("ontem eu vi o anúncio de vocês", TODAY) is None


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("no segundo semestre de 2027", "2027-12-31"),
        ("primeiro semestre de 2026", "2026-06-30"),
        ("2º semestre", "2025-12-31"),
        ("primeiro semestre", "2025-06-30"),
    ],
)
def test_a_semester_with_or_without_its_year(text, iso):
    assert find_deadline(text, TODAY).date.isoformat() == iso
