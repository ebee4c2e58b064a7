from datetime import date

import pytest

from agent.context import Profile, QualificationField
from agent.scoring import budget_quality, score, temperature, timeline_quality, unanswered_fields

from .profiles import SALES_PROFILE

TODAY = date(2025, 3, 10)


def test_score_weighs_answered_fields_by_what_they_say():
    lead = {"name": "Maria", "need": "estoque", "budget": 0, "company": "  "}
    # name 10 + need 30 + budget 25 * 0 (zero money says no budget); blank text is no answer.
    assert score(SALES_PROFILE, lead, today=TODAY) == 40


def test_a_big_budget_and_an_urgent_deadline_make_a_full_score():
    lead = {"name": "Ana", "company": "Acme", "need": "ERP", "budget": 50000, "timeline": "2025-03-10 (urgente)"}
    assert score(SALES_PROFILE, lead, today=TODAY) == 100


def test_a_small_budget_and_a_far_deadline_lower_the_score():
    lead = {"name": "Ana", "company": "Acme", "need": "site", "budget": 800, "timeline": "2026-12-31 (ano que vem)"}
    # 10 + 20 + 30 + 25 * 0.25 + 15 * 0.2 = 69.25
    assert score(SALES_PROFILE, lead, today=TODAY) == 69
    assert temperature(SALES_PROFILE, 69) == "warm"


def test_browsing_is_a_weak_need():
    browsing = score(SALES_PROFILE, {"need": "só estou pesquisando"}, today=TODAY)
    buying = score(SALES_PROFILE, {"need": "quero um ERP"}, today=TODAY)
    assert browsing < buying


@pytest.mark.parametrize(
    ("amount", "quality"),
    [(50000, 1.0), (10000, 1.0), (5000, 0.9), (2000, 0.75), (1000, 0.5), (500, 0.25), (0, 0.0), ("uns 2 mil", 0.75)],
)
def test_budget_quality(amount, quality):
    assert budget_quality(amount) == quality


def test_a_budget_in_words_we_cannot_read_still_counts_a_little():
    assert budget_quality("a combinar") == 0.5


@pytest.mark.parametrize(
    ("timeline", "quality"),
    [
        ("2025-03-10 (urgente)", 1.0),
        ("2025-04-09 (em 30 dias)", 1.0),
        ("2025-06-01 (junho)", 0.8),
        ("2025-08-31 (agosto)", 0.5),
        ("2026-12-31 (ano que vem)", 0.2),
        ("para o mês que vem", 0.8),
        ("sem pressa", 0.1),
        ("quando a obra acabar", 0.5),
        (["odd"], 0.5),
    ],
)
def test_timeline_quality(timeline, quality):
    assert timeline_quality(timeline, TODAY) == quality


def test_score_without_weights_uses_equal_weights():
    profile = Profile(
        name="p",
        company_name="c",
        fields=(QualificationField("a", "A?"), QualificationField("b", "B?"), QualificationField("c", "C?")),
    )
    assert score(profile, {"a": "x"}, today=TODAY) == 33
    assert score(profile, {"a": "x", "b": "y", "c": "z"}, today=TODAY) == 100
    assert score(Profile(name="p", company_name="c"), {"a": "x"}) == 0


def test_temperature_follows_profile_thresholds():
    assert temperature(SALES_PROFILE, 70) == "hot"
    assert temperature(SALES_PROFILE, 69) == "warm"
    assert temperature(SALES_PROFILE, 40) == "warm"
    assert temperature(SALES_PROFILE, 39) == "cold"


def test_unanswered_fields_keep_profile_order():
    keys = [field.key for field in unanswered_fields(SALES_PROFILE, {"company": "Acme", "name": ""})]
    assert keys == ["name", "need", "budget", "timeline"]
