"""A ban takes the chip out of service at once: no sends, no proactive work, but nothing inbound is lost."""

from __future__ import annotations

import pytest
import respx
from django.db import transaction

from chips.bans import chip_ban
from chips.lifecycle import ChipStatus
from chips.models import Chip, ChipAlert, ChipTransition
from chips.notifications import EVENT_ICONS
from chips.pacing import chip_for_proactive
from chips.selectors import chip_for_send, chips_for_webhook
from chips.services import TransitionNotAllowed
from conversations.models import Message
from conversations.outbound import outbound_deliver
from tests.chips.fleet_events import of_kind
from tests.factories import ChipFactory, ConversationFactory, OutboundMessageFactory
from tests.payloads import evolution_headers, evolution_text

pytestmark = pytest.mark.django_db

BANNABLE = [status for status in ChipStatus.values if status not in (ChipStatus.BANNED, ChipStatus.CANCELLED)]


@pytest.fixture
def ban(django_capture_on_commit_callbacks):
    def run(chip, reason="Salvy reports the number blocked", triggered_by="task:sync_salvy"):
        with django_capture_on_commit_callbacks(execute=True):
            return chip_ban(chip_id=chip.pk, reason=reason, triggered_by=triggered_by)

    return run


@pytest.mark.parametrize("from_status", BANNABLE)
def test_any_status_but_cancelled_can_be_banned(ban, notifications, from_status):
    chip = ChipFactory(status=from_status)
    transition = ban(chip)

    assert (transition.from_status, transition.to_status) == (from_status, "banned")
    assert transition.reason == "Salvy reports the number blocked"
    assert transition.triggered_by == "task:sync_salvy"
    assert Chip.objects.get(pk=chip.pk).status == ChipStatus.BANNED
    alert = ChipAlert.objects.get(chip=chip, kind="banned")
    assert alert.severity == "critical" and alert.resolved_at is None
    assert chip.phone in alert.message
    [text] = of_kind(notifications, EVENT_ICONS["banned"])
    assert chip.phone in text and "blocked" in text


def test_second_ban_signal_changes_nothing(ban, notifications):
    chip = ChipFactory(status=ChipStatus.ACTIVE)
    ban(chip)
    assert ban(chip, reason="again") is None
    assert ChipTransition.objects.filter(chip=chip).count() == 1
    assert ChipAlert.objects.filter(chip=chip, kind="banned").count() == 1
    assert ChipAlert.objects.get(chip=chip, kind="banned").details.get("repeats") is None
    assert len(of_kind(notifications, EVENT_ICONS["banned"])) == 1


def test_cancelled_chip_cannot_be_banned(ban, notifications):
    chip = ChipFactory(status=ChipStatus.CANCELLED)
    with pytest.raises(TransitionNotAllowed):
        ban(chip)
    assert Chip.objects.get(pk=chip.pk).status == ChipStatus.CANCELLED
    assert ChipAlert.objects.filter(chip=chip).count() == 0
    assert notifications == []


def test_chip_set_to_cancel_on_ban_is_released_at_salvy_after_commit(ban, salvy_cancels):
    chip = ChipFactory(status=ChipStatus.ACTIVE, salvy_id="c1d2e3f4-salvy", cancel_on_ban=True)
    ban(chip)
    assert salvy_cancels == [[chip.pk, "whatsapp-ban"]]
    assert ChipAlert.objects.get(chip=chip, kind="banned").details["salvy_cancel"] is True


def test_fleet_wide_setting_releases_banned_numbers_too(ban, salvy_cancels, settings):
    settings.CHIP_CANCEL_ON_BAN = True
    chip = ChipFactory(status=ChipStatus.READY, salvy_id="c1d2e3f4-salvy")
    ban(chip)
    assert salvy_cancels == [[chip.pk, "whatsapp-ban"]]


def test_number_is_kept_unless_asked_or_when_it_is_not_from_salvy(ban, salvy_cancels, settings):
    settings.CHIP_CANCEL_ON_BAN = False
    ban(ChipFactory(status=ChipStatus.READY, salvy_id="c1d2e3f4-salvy", cancel_on_ban=False))
    settings.CHIP_CANCEL_ON_BAN = True
    ban(ChipFactory(status=ChipStatus.READY, salvy_id=""))
    assert salvy_cancels == []


def test_rolled_back_ban_releases_nothing_and_announces_nothing(notifications, salvy_cancels, settings):
    settings.CHIP_CANCEL_ON_BAN = True
    chip = ChipFactory(status=ChipStatus.ACTIVE, salvy_id="c1d2e3f4-salvy")

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        chip_ban(chip_id=chip.pk, reason="ban", triggered_by="t")
        raise Abort
    assert Chip.objects.get(pk=chip.pk).status == ChipStatus.ACTIVE
    assert salvy_cancels == [] and notifications == []


def test_broker_outage_leaves_an_alert_to_release_the_number_by_hand(ban, monkeypatch, settings):
    from chips import tasks

    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("broker unreachable")

    monkeypatch.setattr(tasks.cancel_at_salvy, "apply_async", broker_down)
    settings.CHIP_CANCEL_ON_BAN = True
    chip = ChipFactory(status=ChipStatus.ACTIVE, salvy_id="c1d2e3f4-salvy")
    ban(chip)
    assert Chip.objects.get(pk=chip.pk).status == ChipStatus.BANNED
    alert = ChipAlert.objects.get(chip=chip, kind="salvy_cancel_not_queued")
    assert "cancel_chip" in alert.message


def test_banned_chip_sends_nothing(ban):
    chip = ChipFactory(status=ChipStatus.ACTIVE, gateway__base_url="http://evo.test:8080")
    message = OutboundMessageFactory(conversation=ConversationFactory(chip=chip))
    ban(chip)
    with respx.mock(base_url="http://evo.test:8080", assert_all_called=False) as router:
        send = router.post(f"/message/sendText/{chip.instance_name}")
        outbound_deliver(conversation_id=message.conversation_id)
    assert send.call_count == 0
    message.refresh_from_db()
    assert message.status == "failed"
    assert message.error == "chip is banned"
    assert chip_for_send(chip.pk).in_service is False


def test_banned_chip_gets_no_proactive_work(ban):
    banned = ChipFactory(status=ChipStatus.READY)
    healthy = ChipFactory(status=ChipStatus.READY)
    ban(banned)
    assert chip_for_proactive() == healthy
    ban(healthy)
    assert chip_for_proactive() is None


def test_ban_clears_this_process_route_cache(ban, settings):
    settings.WEBHOOK_ROUTE_CACHE_SECONDS = 300
    chip = ChipFactory(status=ChipStatus.ACTIVE, instance_name="acme-77")
    [cached] = chips_for_webhook(endpoint="evolution", route_key="acme-77")
    assert cached.in_service
    ban(chip)
    [fresh] = chips_for_webhook(endpoint="evolution", route_key="acme-77")
    assert fresh.status == ChipStatus.BANNED and not fresh.in_service


def test_what_a_contact_writes_to_a_banned_chip_is_still_recorded(ban, client):
    chip = ChipFactory(status=ChipStatus.ACTIVE, instance_name="acme-01")
    ban(chip)
    response = client.post(
        "/webhooks/evolution/",
        data=evolution_text(instance="acme-01", message_id="AFTER-BAN-1", text="Ainda está aí?"),
        content_type="application/json",
        **evolution_headers(chip.gateway.webhook_secret),
    )
    assert response.status_code in (200, 202)
    stored = Message.objects.get(chip=chip, provider_message_id="AFTER-BAN-1")
    assert stored.text == "Ainda está aí?"
