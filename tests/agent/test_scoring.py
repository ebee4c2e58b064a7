from agent.context import Profile, QualificationField
from agent.scoring import score, temperature, unanswered_fields

from .profiles import SALES_PROFILE


def test_score_sums_weights_of_answered_fields():
    lead = {"name": "Maria", "need": "estoque", "budget": 0, "company": "  "}
    # name 10 + need 30 + budget 25 (zero is an answer; blank text is not) out of 100.
    assert score(SALES_PROFILE, lead) == 65


def test_score_without_weights_uses_the_share_of_answered_fields():
    profile = Profile(
        name="p",
        company_name="c",
        fields=(QualificationField("a", "A?"), QualificationField("b", "B?"), QualificationField("c", "C?")),
    )
    assert score(profile, {"a": "x"}) == 33
    assert score(profile, {"a": "x", "b": "y", "c": "z"}) == 100


def test_temperature_follows_profile_thresholds():
    assert temperature(SALES_PROFILE, 70) == "hot"
    assert temperature(SALES_PROFILE, 69) == "warm"
    assert temperature(SALES_PROFILE, 40) == "warm"
    assert temperature(SALES_PROFILE, 39) == "cold"


def test_unanswered_fields_keep_profile_order():
    keys = [field.key for field in unanswered_fields(SALES_PROFILE, {"company": "Acme", "name": ""})]
    assert keys == ["name", "need", "budget", "timeline"]
