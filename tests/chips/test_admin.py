import pytest
from django.urls import reverse

from chips.models import Chip, ChipTransition
from tests.factories import ChipFactory, GatewayFactory

pytestmark = pytest.mark.django_db


def test_gateway_form_never_shows_secrets_and_keeps_them_when_left_blank(admin_client):
    gateway = GatewayFactory(api_key="very-secret-api-key", webhook_secret="very-secret-webhook")
    url = reverse("admin:chips_gateway_change", args=[gateway.pk])
    page = admin_client.get(url).content.decode()
    assert "very-secret-api-key" not in page and "very-secret-webhook" not in page

    response = admin_client.post(
        url,
        {
            "name": gateway.name,
            "kind": "evolution",
            "base_url": "http://new.test:8080",
            "is_active": "on",
            "api_key": "",
            "webhook_secret": "",
            "verify_token": "",
        },
    )
    assert response.status_code == 302
    gateway.refresh_from_db()
    assert (gateway.base_url, gateway.api_key, gateway.webhook_secret) == (
        "http://new.test:8080",
        "very-secret-api-key",
        "very-secret-webhook",
    )


def test_chip_status_is_read_only_and_changed_by_an_audited_action(admin_client):
    chip = ChipFactory(status="ready")
    change = admin_client.get(reverse("admin:chips_chip_change", args=[chip.pk])).content.decode()
    assert 'name="status"' not in change

    response = admin_client.post(
        reverse("admin:chips_chip_changelist"), {"action": "mark_active", "_selected_action": [chip.pk]}, follow=True
    )
    assert "1 chip(s) moved to active" in response.content.decode()
    assert Chip.objects.get(pk=chip.pk).status == "active"
    assert ChipTransition.objects.get(chip=chip).triggered_by.startswith("user:")


def test_a_refused_transition_is_reported_not_applied(admin_client):
    chip = ChipFactory(status="cancelled")
    response = admin_client.post(
        reverse("admin:chips_chip_changelist"), {"action": "mark_active", "_selected_action": [chip.pk]}, follow=True
    )
    assert "cannot go from cancelled to active" in response.content.decode()
    assert Chip.objects.get(pk=chip.pk).status == "cancelled"


@pytest.mark.parametrize(
    "model",
    [
        "chips/gateway",
        "chips/chip",
        "chips/chipsession",
        "chips/chiptransition",
        "chips/chipalert",
        "conversations/agentprofile",
        "conversations/lead",
        "conversations/conversation",
        "conversations/message",
        "conversations/agentrun",
        "conversations/earlystatus",
        "simulator/sandboxdelivery",
    ],
)
def test_every_model_has_a_working_admin_list(admin_client, model):
    ChipFactory()
    response = admin_client.get(f"/admin/{model}/?q=55")
    assert response.status_code == 200
