"""Salvy's view of our numbers drives the chips: blocked → banned, canceled → cancelled; missed SMS recovered."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs

import httpx
import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from chips import tasks
from chips.models import Chip, ChipAlert, SmsCode
from chips.salvy_sync import (
    CancelFailed,
    SalvyRetry,
    chip_cancel,
    chip_cancel_at_salvy,
    salvy_account_refresh,
    salvy_sync,
)
from tests.chips import salvy_fakes
from tests.chips.salvy_fakes import (
    ACCOUNT_ID,
    EVOLUTION_URL,
    PHONE,
    account,
    evolution_done,
    route_account,
    route_cancel,
    route_list,
    route_sms,
    salvy_error,
)
from tests.factories import ChipFactory, GatewayFactory

pytestmark = pytest.mark.django_db
http, salvy, slack = salvy_fakes.http, salvy_fakes.salvy, salvy_fakes.slack

BLOCKED_ID = "11111111-1111-4111-8111-111111111111"
CANCELED_ID = "22222222-2222-4222-8222-222222222222"
PENDING_ID = "33333333-3333-4333-8333-333333333333"


@pytest.fixture
def gateway():
    return GatewayFactory(name="evo-main", base_url=EVOLUTION_URL)


def chip_on(gateway, salvy_id, status, salvy_status="active", phone=None, **kwargs):
    extra = {"phone": phone} if phone else {}
    return ChipFactory(gateway=gateway, salvy_id=salvy_id, salvy_status=salvy_status, status=status, **extra, **kwargs)


def transitions(chip):
    return list(chip.transitions.order_by("id").values_list("from_status", "to_status", "reason", "triggered_by"))


def test_sync_bans_blocked_and_cancels_canceled_numbers_with_audit_rows(
    salvy, slack, gateway, django_capture_on_commit_callbacks
):
    fine = chip_on(gateway, ACCOUNT_ID, "active")
    blocked = chip_on(gateway, BLOCKED_ID, "ready")
    canceled = chip_on(gateway, CANCELED_ID, "active")
    waiting = chip_on(gateway, PENDING_ID, "ready", salvy_status="pending")
    route_list(
        salvy,
        [
            account(id=ACCOUNT_ID, status="active"),
            account(id=BLOCKED_ID, status="blocked"),
            account(id=CANCELED_ID, status="canceled", cancelReason="company-canceled"),
            account(id=PENDING_ID, status="pending"),
        ],
    )
    with django_capture_on_commit_callbacks(execute=True):
        report = salvy_sync()
    assert (report.checked, report.changed, report.errors) == (4, 2, [])

    blocked.refresh_from_db()
    assert (blocked.status, blocked.salvy_status) == ("banned", "blocked")
    assert transitions(blocked) == [("ready", "banned", "Salvy blocked the number", "task:sync_salvy")]
    assert ChipAlert.objects.get(chip=blocked, kind="banned").severity == "critical"

    canceled.refresh_from_db()
    assert (canceled.status, canceled.salvy_status) == ("cancelled", "canceled")
    reason = "Salvy canceled the number (reason company-canceled)"
    assert transitions(canceled) == [
        ("active", "degraded", reason, "task:sync_salvy"),
        ("degraded", "cancelled", reason, "task:sync_salvy"),
    ]
    assert [text for text in slack if text.startswith(":wastebasket:")] == [
        f":wastebasket: {canceled.phone} was canceled at Salvy (reason company-canceled); the chip is cancelled"
    ]

    for untouched in (fine, waiting):
        assert Chip.objects.get(pk=untouched.pk).status == untouched.status
        assert not untouched.transitions.exists()


def test_a_second_sync_changes_nothing(salvy, gateway):
    chip_on(gateway, BLOCKED_ID, "active")
    route_list(salvy, [account(id=BLOCKED_ID, status="blocked")])
    assert salvy_sync().changed == 1
    again = salvy_sync()
    assert (again.checked, again.changed) == (1, 0)
    assert Chip.objects.get().transitions.count() == 1
    assert ChipAlert.objects.filter(kind="banned").count() == 1


def test_salvy_pending_and_active_leave_the_lifecycle_alone(salvy, gateway):
    chip = chip_on(gateway, ACCOUNT_ID, "pending", salvy_status="pending")
    route_list(salvy, [account(id=ACCOUNT_ID, status="active")])
    route_sms(salvy, messages=[])
    report = salvy_sync()
    chip.refresh_from_db()
    assert (report.changed, chip.salvy_status, chip.status) == (1, "active", "pending")
    assert not chip.transitions.exists()


def test_an_account_missing_from_the_list_is_asked_for_alone(salvy, gateway):
    chip = chip_on(gateway, BLOCKED_ID, "warming")
    route_list(salvy, [])
    route_account(salvy, BLOCKED_ID, status="blocked")
    route_sms(salvy, BLOCKED_ID, messages=[])
    assert salvy_sync().changed == 1
    assert Chip.objects.get(pk=chip.pk).status == "banned"


def test_an_account_salvy_does_not_know_is_reported_not_guessed(salvy, gateway):
    chip = chip_on(gateway, BLOCKED_ID, "active")
    route_list(salvy, [])
    salvy.get(f"{salvy_fakes.SALVY_ROOT}/virtual-phone-accounts/{BLOCKED_ID}").mock(
        return_value=salvy_error(404, "resource-not-found", "Virtual phone account not found")
    )
    report = salvy_sync()
    assert report.errors == [f"chip {chip.phone}: Salvy has no phone account {BLOCKED_ID}"]
    assert Chip.objects.get(pk=chip.pk).status == "active"
    assert ChipAlert.objects.get(kind="salvy_unknown_account").chip == chip


def test_a_failing_salvy_changes_nothing(salvy, gateway):
    chip = chip_on(gateway, BLOCKED_ID, "active")
    salvy.get(f"{salvy_fakes.SALVY_ROOT}/virtual-phone-accounts").mock(
        return_value=salvy_error(401, "unauthorized", "Unauthorized")
    )
    report = salvy_sync()
    assert report.errors == ["could not list the numbers at Salvy: Salvy rejected the API token (SALVY_API_TOKEN)"]
    assert (report.checked, report.changed) == (0, 0)
    assert Chip.objects.get(pk=chip.pk).status == "active"


def test_without_chips_at_salvy_nothing_is_asked(salvy, gateway):
    ChipFactory(gateway=gateway)  # registered by hand: no Salvy id
    report = salvy_sync()
    assert (report.checked, report.errors) == (0, [])
    assert not salvy.calls


def test_sms_a_webhook_missed_are_recovered_once(salvy, gateway):
    waiting = chip_on(gateway, ACCOUNT_ID, "pending", phone=PHONE)
    chip_on(gateway, BLOCKED_ID, "active")  # in service: its registration is long done, no polling
    route_list(salvy, [account(id=ACCOUNT_ID, status="active"), account(id=BLOCKED_ID, status="active")])
    sms = route_sms(salvy, ACCOUNT_ID)
    before = timezone.now()
    report = salvy_sync()
    assert report.sms_recovered == 3
    query = parse_qs(sms.calls.last.request.url.query.decode())
    assert (query["page"], query["pageSize"]) == (["1"], ["50"])
    since = query["receivedAtFrom"][0]
    assert abs(timezone.datetime.fromisoformat(since) - (before - timedelta(hours=24))) < timedelta(minutes=1)
    codes = dict(SmsCode.objects.values_list("salvy_sms_id", "code"))
    assert codes == {
        "c3a9e1f0-2b7d-4e85-9f16-8d0a4b5c7e29": "944591",
        "7b1d7a52-5f0e-4c1b-9a57-2f4d1c9e8a10": "",
        "0140a8c6-3815-45b7-9e60-8e137cad845c": "123456",
    }
    assert set(SmsCode.objects.values_list("chip_id", "source")) == {(waiting.pk, "poll")}
    assert salvy_sync().sms_recovered == 0
    assert SmsCode.objects.count() == 3


def test_a_webhook_account_event_applies_the_state_salvy_has_now(salvy, slack, gateway):
    chip = chip_on(gateway, ACCOUNT_ID, "active")
    route_account(salvy, status="blocked")
    assert salvy_account_refresh(phone_account_id=ACCOUNT_ID, triggered_by="webhook:salvy") is True
    chip.refresh_from_db()
    assert (chip.status, chip.salvy_status) == ("banned", "blocked")
    assert transitions(chip) == [("active", "banned", "Salvy blocked the number", "webhook:salvy")]


def test_an_account_event_for_a_number_we_do_not_have_asks_nothing(salvy):
    assert salvy_account_refresh(phone_account_id=ACCOUNT_ID, triggered_by="webhook:salvy") is False
    assert not salvy.calls


def test_an_account_event_while_salvy_is_down_is_retried(salvy, gateway):
    chip_on(gateway, ACCOUNT_ID, "active")
    salvy.get(f"{salvy_fakes.SALVY_ROOT}/virtual-phone-accounts/{ACCOUNT_ID}").mock(
        return_value=salvy_error(503, "unknown", "Service unavailable")
    )
    with pytest.raises(SalvyRetry, match="Salvy had an internal error"):
        salvy_account_refresh(phone_account_id=ACCOUNT_ID, triggered_by="webhook:salvy")
    assert Chip.objects.get().status == "active"


# --- cancelling --------------------------------------------------------------------------------------


def route_logout(router, instance):
    logout = router.delete(f"{EVOLUTION_URL}/instance/logout/{instance}").mock(
        return_value=evolution_done("Instance logged out")
    )
    delete = router.delete(f"{EVOLUTION_URL}/instance/delete/{instance}").mock(
        return_value=evolution_done("Instance deleted")
    )
    return logout, delete


def test_cancelling_releases_the_number_then_the_chip_and_its_session(
    salvy, slack, gateway, django_capture_on_commit_callbacks
):
    chip = chip_on(gateway, ACCOUNT_ID, "active", phone=PHONE)
    cancel = route_cancel(salvy)
    logout, delete = route_logout(salvy, chip.instance_name)
    with django_capture_on_commit_callbacks(execute=True):
        chip = chip_cancel(chip_id=chip.pk, reason="unnecessary", triggered_by="command:cancel_chip")
    assert (chip.status, chip.salvy_status) == ("cancelled", "canceled")
    assert parse_qs(cancel.calls.last.request.url.query.decode()) == {"reason": ["unnecessary"]}
    reason = "cancelled by command:cancel_chip (reason unnecessary; released at Salvy)"
    assert transitions(chip) == [
        ("active", "degraded", reason, "command:cancel_chip"),
        ("degraded", "cancelled", reason, "command:cancel_chip"),
    ]
    assert (logout.call_count, delete.call_count) == (1, 1)
    assert chip.session.state == "logged_out"
    assert f":wastebasket: {PHONE} cancelled (reason unnecessary; released at Salvy)" in slack


def test_a_cancel_salvy_refuses_changes_nothing(salvy, gateway):
    chip = chip_on(gateway, ACCOUNT_ID, "warming")
    route_cancel(salvy, response=salvy_error(403, "forbidden", "Operation not allowed"))
    with pytest.raises(CancelFailed, match="Salvy did not cancel"):
        chip_cancel(chip_id=chip.pk, reason="unnecessary", triggered_by="command:cancel_chip")
    chip.refresh_from_db()
    assert (chip.status, chip.salvy_status) == ("warming", "active")
    assert not chip.transitions.exists()


def test_a_chip_without_a_salvy_number_is_cancelled_without_asking_salvy(salvy, gateway):
    chip = ChipFactory(gateway=gateway, status="pending")
    route_logout(salvy, chip.instance_name)
    chip = chip_cancel(chip_id=chip.pk, reason="unnecessary", triggered_by="user:ana")
    assert chip.status == "cancelled"
    assert not [call for call in salvy.calls if "salvy" in str(call.request.url)]


def test_a_gateway_that_cannot_log_out_does_not_stop_the_cancel(salvy, gateway):
    chip = chip_on(gateway, ACCOUNT_ID, "pending")
    route_cancel(salvy)
    salvy.delete(f"{EVOLUTION_URL}/instance/logout/{chip.instance_name}").mock(
        return_value=httpx.Response(500, json={"status": 500, "error": "Internal Server Error"})
    )
    salvy.delete(f"{EVOLUTION_URL}/instance/delete/{chip.instance_name}").mock(
        return_value=httpx.Response(500, json={"status": 500, "error": "Internal Server Error"})
    )
    assert chip_cancel(chip_id=chip.pk, reason="technical-issues", triggered_by="user:ana").status == "cancelled"


@pytest.mark.parametrize(
    ("status", "reason", "message"),
    [("active", "because", "unknown cancel reason 'because'"), ("cancelled", "unnecessary", "already cancelled")],
)
def test_a_cancel_that_makes_no_sense_is_refused(salvy, gateway, status, reason, message):
    chip = chip_on(gateway, ACCOUNT_ID, status)
    with pytest.raises(ValidationError, match=message):
        chip_cancel(chip_id=chip.pk, reason=reason, triggered_by="user:ana")
    assert not salvy.calls
    assert Chip.objects.get(pk=chip.pk).status == status


def test_a_banned_number_is_released_at_salvy_by_the_task(salvy, gateway):
    chip = chip_on(gateway, ACCOUNT_ID, "banned")
    cancel = route_cancel(salvy)
    assert tasks.cancel_at_salvy.apply(args=[chip.pk, "whatsapp-ban"]).get() is True
    assert parse_qs(cancel.calls.last.request.url.query.decode()) == {"reason": ["whatsapp-ban"]}
    chip.refresh_from_db()
    assert (chip.status, chip.salvy_status) == ("cancelled", "canceled")
    assert transitions(chip) == [
        ("banned", "cancelled", "released at Salvy (reason whatsapp-ban)", "task:cancel_at_salvy")
    ]
    assert chip_cancel_at_salvy(chip_id=chip.pk, reason="whatsapp-ban") is False  # already released
    assert cancel.call_count == 1


def test_a_release_salvy_refuses_is_a_critical_alert(salvy, gateway):
    chip = chip_on(gateway, ACCOUNT_ID, "banned")
    route_cancel(salvy, response=salvy_error(403, "forbidden", "Operation not allowed"))
    assert chip_cancel_at_salvy(chip_id=chip.pk, reason="whatsapp-ban") is False
    alert = ChipAlert.objects.get(kind="salvy_cancel_failed")
    assert (alert.chip, alert.severity) == (chip, "critical")
    assert Chip.objects.get(pk=chip.pk).status == "banned"


def test_a_number_salvy_no_longer_knows_counts_as_released(salvy, gateway):
    chip = chip_on(gateway, ACCOUNT_ID, "banned")
    route_cancel(salvy, response=salvy_error(404, "resource-not-found", "Not found"))
    assert chip_cancel_at_salvy(chip_id=chip.pk, reason="whatsapp-ban") is True
    assert Chip.objects.get(pk=chip.pk).status == "cancelled"


def test_a_salvy_url_that_is_not_one_is_reported(salvy, gateway, settings):
    chip_on(gateway, ACCOUNT_ID, "active")
    settings.SALVY_API_URL = "api.salvy.com.br"
    report = salvy_sync()
    assert report.errors == [
        "could not list the numbers at Salvy: Salvy is misconfigured: "
        "SALVY_API_URL must be an http(s) URL, got 'api.salvy.com.br'"
    ]
    assert not salvy.calls
