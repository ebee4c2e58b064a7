"""Connection events walk the chip lifecycle: once per real change, whatever the number of repeats."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from chips.connection import connection_event_apply
from chips.lifecycle import ChipStatus
from chips.models import Chip, ChipAlert, ChipSession, ChipTransition
from chips.notifications import EVENT_ICONS
from chips.services import chip_transition
from integrations.providers.base import ConnectionUpdate, QrUpdate, SessionInfo
from tests.chips.fleet_events import of_kind
from tests.factories import ChipFactory

pytestmark = pytest.mark.django_db

CONNECTED = ConnectionUpdate(state="connected")
DISCONNECTED = ConnectionUpdate(state="disconnected", detail="Device has been disconnected")
LOGGED_OUT = ConnectionUpdate(state="logged_out", reason_code=401)
BANNED = ConnectionUpdate(
    state="logged_out", reason_code=403, detail="WhatsApp locked the account (forbidden)", banned=True
)


@pytest.fixture
def apply(django_capture_on_commit_callbacks):
    """Apply an event the way a webhook does, running what waits for the commit (notifications)."""

    def run(chip, update, triggered_by="webhook", **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return connection_event_apply(chip_id=chip.pk, update=update, triggered_by=triggered_by, **kwargs)

    return run


def transitions(chip) -> list[tuple[str, str]]:
    return list(
        ChipTransition.objects.filter(chip=chip).order_by("created_at", "id").values_list("from_status", "to_status")
    )


def status(chip) -> str:
    return Chip.objects.values_list("status", flat=True).get(pk=chip.pk)


def open_alerts(chip, kind="disconnected"):
    return ChipAlert.objects.filter(chip=chip, kind=kind, resolved_at__isnull=True)


def test_first_connection_starts_the_warm_up_once(apply, notifications):
    chip = ChipFactory(status=ChipStatus.PENDING)
    session = apply(chip, CONNECTED)

    chip.refresh_from_db()
    assert chip.status == ChipStatus.WARMING
    assert chip.warmup_started_at is not None
    assert session.state == "connected" and session.last_connected_at is not None
    assert transitions(chip) == [("pending", "warming")]
    assert len(of_kind(notifications, EVENT_ICONS["connected"])) == 1

    started = chip.warmup_started_at
    apply(chip, CONNECTED)  # the same webhook delivered again
    chip.refresh_from_db()
    assert chip.warmup_started_at == started
    assert transitions(chip) == [("pending", "warming")]
    assert len(of_kind(notifications, EVENT_ICONS["connected"])) == 1


def test_warm_up_start_is_never_moved_by_a_later_connection(apply):
    earlier = timezone.now() - timedelta(days=3)
    chip = ChipFactory(status=ChipStatus.PENDING, warmup_started_at=earlier)
    apply(chip, CONNECTED)
    chip.refresh_from_db()
    assert chip.status == ChipStatus.WARMING
    assert chip.warmup_started_at == earlier


def test_connection_before_the_session_step_walks_provisioned_pending_warming(apply):
    chip = ChipFactory(status=ChipStatus.PROVISIONED)
    apply(chip, CONNECTED)
    assert transitions(chip) == [("provisioned", "pending"), ("pending", "warming")]


@pytest.mark.parametrize("from_status", [ChipStatus.READY, ChipStatus.ACTIVE])
def test_lost_connection_degrades_a_ready_or_active_chip(apply, notifications, from_status):
    chip = ChipFactory(status=from_status)
    apply(chip, CONNECTED)  # the session was up
    session = apply(chip, DISCONNECTED)

    assert status(chip) == ChipStatus.DEGRADED
    assert transitions(chip) == [(from_status, "degraded")]
    alert = open_alerts(chip).get()
    assert alert.severity == "warning"
    assert "Device has been disconnected" in alert.message
    assert session.state == "disconnected" and session.detail == "Device has been disconnected"
    assert len(of_kind(notifications, EVENT_ICONS["disconnected"])) == 1

    apply(chip, DISCONNECTED)  # repeated: nothing new
    assert transitions(chip) == [(from_status, "degraded")]
    assert open_alerts(chip).count() == 1
    assert open_alerts(chip).get().details.get("repeats") is None
    assert len(of_kind(notifications, EVENT_ICONS["disconnected"])) == 1


def test_logged_out_chip_is_told_to_scan_a_new_qr(apply):
    chip = ChipFactory(status=ChipStatus.ACTIVE)
    session = apply(chip, LOGGED_OUT)
    assert status(chip) == ChipStatus.DEGRADED
    assert session.disconnect_reason_code == 401
    assert "scan a new QR code" in open_alerts(chip).get().message


def test_reconnection_brings_a_disconnected_chip_back_to_ready(apply, notifications):
    chip = ChipFactory(status=ChipStatus.READY)
    apply(chip, DISCONNECTED)
    apply(chip, CONNECTED)

    assert status(chip) == ChipStatus.READY
    assert transitions(chip) == [("ready", "degraded"), ("degraded", "ready")]
    assert open_alerts(chip).count() == 0
    assert ChipAlert.objects.filter(chip=chip, kind="disconnected", resolved_at__isnull=False).count() == 1
    assert len(of_kind(notifications, EVENT_ICONS["connected"])) == 1

    apply(chip, CONNECTED)
    assert len(transitions(chip)) == 2
    assert len(of_kind(notifications, EVENT_ICONS["connected"])) == 1


def test_gateway_silent_reconnect_is_no_news(apply, notifications):
    chip = ChipFactory(status=ChipStatus.ACTIVE)
    apply(chip, CONNECTED)
    apply(chip, ConnectionUpdate(state="connecting"))  # Evolution reconnecting after a network blip
    apply(chip, CONNECTED)
    assert status(chip) == ChipStatus.ACTIVE
    assert transitions(chip) == []
    assert notifications == []


def test_outage_reported_through_a_failed_restart_is_one_alert(apply, notifications):
    chip = ChipFactory(status=ChipStatus.READY)
    failed = ConnectionUpdate(state="disconnected", detail="FAILED")
    apply(chip, failed)
    apply(chip, ConnectionUpdate(state="connecting", detail="STARTING"))  # WAHA tries again...
    apply(chip, failed)  # ...and fails again
    assert open_alerts(chip).count() == 1
    assert len(of_kind(notifications, EVENT_ICONS["disconnected"])) == 1

    apply(chip, ConnectionUpdate(state="connecting", detail="STARTING"))
    apply(chip, CONNECTED)  # back after an interlude: still the end of the outage
    assert status(chip) == ChipStatus.READY
    assert open_alerts(chip).count() == 0
    assert len(of_kind(notifications, EVENT_ICONS["connected"])) == 1


def test_chip_degraded_for_its_delivery_stays_degraded_when_the_gateway_says_connected(apply):
    chip = ChipFactory(status=ChipStatus.READY)
    apply(chip, CONNECTED)
    chip_transition(
        chip_id=chip.pk, to_status=ChipStatus.DEGRADED, reason="delivery collapsed: 9 of 10 failed", triggered_by="t"
    )
    apply(chip, CONNECTED)  # the health check reads the state again
    assert status(chip) == ChipStatus.DEGRADED

    # Even a real drop and reconnect does not lift a degradation the connection did not cause.
    apply(chip, DISCONNECTED)
    apply(chip, CONNECTED)
    assert status(chip) == ChipStatus.DEGRADED
    assert open_alerts(chip).count() == 0  # the outage itself is over


def test_warming_chip_that_disconnects_keeps_warming_but_raises_an_alert(apply, notifications):
    chip = ChipFactory(status=ChipStatus.WARMING)
    apply(chip, DISCONNECTED)
    assert status(chip) == ChipStatus.WARMING  # warming → degraded is not in the lifecycle table
    assert open_alerts(chip).count() == 1
    assert len(of_kind(notifications, EVENT_ICONS["disconnected"])) == 1

    apply(chip, CONNECTED)
    assert status(chip) == ChipStatus.WARMING
    assert open_alerts(chip).count() == 0
    assert transitions(chip) == []


def test_failed_pairing_of_a_pending_chip_is_no_outage(apply, notifications):
    chip = ChipFactory(status=ChipStatus.PENDING)
    session = apply(chip, ConnectionUpdate(state="disconnected"))
    assert session.state == "disconnected"
    assert status(chip) == ChipStatus.PENDING
    assert ChipAlert.objects.filter(chip=chip).count() == 0
    assert notifications == []


def test_ban_signal_bans_the_chip_once(apply, notifications):
    chip = ChipFactory(status=ChipStatus.ACTIVE)
    apply(chip, BANNED)
    apply(chip, BANNED)
    assert status(chip) == ChipStatus.BANNED
    assert transitions(chip) == [("active", "banned")]
    alert = ChipAlert.objects.get(chip=chip, kind="banned")
    assert alert.severity == "critical"
    assert "code 403" in ChipTransition.objects.get(chip=chip).reason
    assert len(of_kind(notifications, EVENT_ICONS["banned"])) == 1
    assert ChipAlert.objects.filter(chip=chip, kind="disconnected").count() == 0


def test_ban_read_from_the_gateway_bans_a_pending_chip(apply):
    chip = ChipFactory(status=ChipStatus.PENDING)
    apply(chip, SessionInfo(state="logged_out", reason_code=402, banned=True, detail="banned temporarily"))
    assert status(chip) == ChipStatus.BANNED


@pytest.mark.parametrize("final", [ChipStatus.BANNED, ChipStatus.CANCELLED])
@pytest.mark.parametrize("update", [CONNECTED, DISCONNECTED, BANNED], ids=["connected", "disconnected", "banned"])
def test_events_for_a_chip_out_of_service_are_recorded_but_change_no_status(apply, notifications, final, update):
    chip = ChipFactory(status=final)
    session = apply(chip, update)
    assert session.state == update.state
    assert status(chip) == final
    assert transitions(chip) == []
    assert ChipAlert.objects.filter(chip=chip).count() == 0
    assert notifications == []


def test_qr_from_a_webhook_is_stored_with_a_short_life(apply):
    chip = ChipFactory(status=ChipStatus.PENDING)
    before = timezone.now()
    session = apply(chip, QrUpdate(qr_code="2@abc,def", pairing_code=""))
    assert (session.state, session.qr_code) == ("qr", "2@abc,def")
    assert before + timedelta(seconds=19) <= session.qr_expires_at <= timezone.now() + timedelta(seconds=21)
    assert status(chip) == ChipStatus.PENDING


def test_first_qr_of_an_attempt_lives_a_minute_and_keeps_its_picture(apply):
    chip = ChipFactory(status=ChipStatus.PENDING)
    info = SessionInfo(state="qr", qr_code="2@first", qr_image="data:image/png;base64,iVBORw0KGgo=")
    session = apply(chip, info, first_qr=True)
    assert session.qr_image.startswith("data:image/png")
    assert session.qr_expires_at - session.qr_updated_at == timedelta(seconds=60)


def test_zapi_qr_lives_twenty_seconds_even_when_first(apply):
    chip = ChipFactory(status=ChipStatus.PENDING, gateway__kind="zapi", instance_token="T0K3N")
    session = apply(chip, SessionInfo(state="qr", qr_image="data:image/png;base64,iVBORw0KGgo="), first_qr=True)
    assert session.qr_expires_at - session.qr_updated_at == timedelta(seconds=20)


def test_pairing_code_is_stored_without_a_qr_expiry(apply):
    chip = ChipFactory(status=ChipStatus.PENDING)
    session = apply(chip, SessionInfo(state="pairing", pairing_code="V37R3T7X"), first_qr=True)
    assert (session.state, session.pairing_code, session.qr_expires_at) == ("pairing", "V37R3T7X", None)


def test_state_read_without_a_code_keeps_the_code_on_screen_and_connection_clears_it(apply):
    chip = ChipFactory(status=ChipStatus.PENDING)
    apply(chip, SessionInfo(state="qr", qr_code="2@shown", qr_image="data:image/png;base64,AAAA"), first_qr=True)
    session = apply(chip, SessionInfo(state="connecting"))
    assert (session.state, session.qr_code) == ("connecting", "2@shown")

    session = apply(chip, SessionInfo(state="connected", phone=chip.phone))
    assert (session.qr_code, session.qr_image, session.pairing_code, session.qr_expires_at) == ("", "", "", None)
    assert status(chip) == ChipStatus.WARMING


def test_unknown_chip_is_an_error_and_stores_nothing(apply):
    with pytest.raises(Chip.DoesNotExist):
        apply(Chip(pk=987654), CONNECTED)
    assert ChipSession.objects.count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_of_the_same_connection_write_one_audit_row(settings, monkeypatch):
    from chips import tasks

    settings.SLACK_WEBHOOK_URL = "https://hooks.slack.test/services/T000/B000/XXXX"
    sent: list[str] = []
    monkeypatch.setattr(tasks.notify, "apply_async", lambda args, **kwargs: sent.append(args[0]))
    chip = ChipFactory(status=ChipStatus.PENDING)
    callers = 6
    barrier = threading.Barrier(callers)
    errors: list[Exception] = []

    def deliver():
        try:
            barrier.wait()
            connection_event_apply(chip_id=chip.pk, update=CONNECTED, triggered_by="webhook")
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert ChipTransition.objects.filter(chip=chip).count() == 1
    assert status(chip) == ChipStatus.WARMING
    assert len(of_kind(sent, EVENT_ICONS["connected"])) == 1
