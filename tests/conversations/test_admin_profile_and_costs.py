"""The profile form refuses what would break turns later; the lead list shows what the agent costs."""

import json
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from conversations.forms import AgentProfileForm
from conversations.models import AgentProfile, AgentRun
from conversations.selectors import agent_cost_summary
from tests.factories import ConversationFactory

pytestmark = pytest.mark.django_db


def form_data(**changes):
    profile = AgentProfile.objects.get(is_default=True)
    data = {field: getattr(profile, field) for field in AgentProfileForm.Meta.fields}
    for key in ("qualification_fields", "business_hours", "holidays", "followup_cadence_hours"):
        data[key] = json.dumps(data[key])
    data.update(changes)
    return data, profile


def test_the_default_profile_is_valid_as_it_is():
    data, profile = form_data()
    form = AgentProfileForm(data=data, instance=profile)
    assert form.is_valid(), form.errors


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("business_hours", '{"monday": ["08:00-18:00"]}', "not a weekday key"),
        ("business_hours", '{"mon": ["18:00-08:00"]}', "ends before it starts"),
        ("holidays", '["25/12/2026"]', "not a date"),
        ("timezone", "Brasil/Paulista", "not a time zone"),
        ("qualification_fields", '[{"key": "name"}]', "question the agent asks is missing"),
        ("qualification_fields", '[{"key": "a", "question": "?", "type": "colour"}]', "type must be one of"),
        ("followup_cadence_hours", "[-1]", "positive hours"),
    ],
)
def test_bad_profile_values_get_clear_errors_and_change_nothing(field, value, error):
    data, profile = form_data(**{field: value})
    form = AgentProfileForm(data=data, instance=profile)
    assert not form.is_valid()
    assert error in str(form.errors[field])
    profile.refresh_from_db()
    assert getattr(profile, field) == getattr(AgentProfile.objects.get(pk=profile.pk), field)


def test_thresholds_and_waits_must_be_consistent():
    data, profile = form_data(warm_threshold=80, hot_threshold=70, debounce_seconds=30, debounce_max_wait_seconds=5)
    form = AgentProfileForm(data=data, instance=profile)
    assert not form.is_valid()
    assert set(form.errors) == {"warm_threshold", "debounce_max_wait_seconds"}


def test_cost_per_lead_and_per_qualified_lead():
    qualified = ConversationFactory(lead__stage="qualified")
    engaged = ConversationFactory(lead__stage="engaged")
    ConversationFactory(lead__stage="qualified")  # the agent never ran for this one: not counted
    for conversation, cost in ((qualified, "0.0300"), (qualified, "0.0100"), (engaged, "0.0200")):
        AgentRun.objects.create(conversation=conversation, model="gpt-4o-mini", cost=Decimal(cost))

    summary = agent_cost_summary()

    assert (summary.total_cost, summary.turns, summary.leads, summary.qualified_leads) == (Decimal("0.06"), 3, 2, 1)
    assert summary.cost_per_lead == Decimal("0.0300")
    assert summary.cost_per_qualified_lead == Decimal("0.0600")


def test_the_lead_list_shows_the_costs(client):
    conversation = ConversationFactory(lead__stage="qualified", lead__name="Ana")
    AgentRun.objects.create(conversation=conversation, model="gpt-4o-mini", cost=Decimal("0.0125"))
    admin = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-for-tests-only")
    client.force_login(admin)

    page = client.get("/admin/conversations/lead/").content.decode()

    assert "per qualified lead US$ 0.0125" in page
    assert "0.0125" in page.split('id="result_list"')[1]
