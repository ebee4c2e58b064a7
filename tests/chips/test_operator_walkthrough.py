"""What an operator runs into when walking the fleet end to end against a gateway and Salvy.

QR codes that expired or belong to a chip out of service are not offered for scanning; the health
score is not shown for chips that no longer send; ban alerts say who banned the number; numbers
Salvy releases lose their gateway session like any cancelled one; the only gateway is preselected
and failed jobs say why; provision_chip says where to connect the new number; a linked number's
"code received" alert is resolved. Salvy and Evolution are faked at the HTTP
boundary (respx) with the shapes of their real answers.
"""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from io import StringIO

import httpx
import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from chips import tasks
from chips.admin_views import qr_svg
from chips.bans import chip_ban
from chips.connection import connection_event_apply
from chips.lifecycle import ChipStatus
from chips.models import Chip, ChipAlert, ChipSession, ProvisioningJob, SessionState
from chips.salvy_sync import salvy_sync
from chips.services import alert_raise
from integrations.providers.base import ConnectionUpdate
from tests.chips import salvy_fakes
from tests.chips.salvy_fakes import (
    ACCOUNT_ID,
    EVOLUTION_URL,
    PHONE,
    SALVY_ROOT,
    account,
    evolution_created,
    evolution_done,
    route_area_codes,
    route_cancel,
    route_list,
)
from tests.factories import ChipFactory, GatewayFactory
from tests.payloads import evolution_headers, load_fixture

pytestmark = pytest.mark.django_db
http, salvy = salvy_fakes.http, salvy_fakes.salvy

QR_PAYLOAD = "2@abcDEF123,xyz987/+=,0123456789abcdef,ghijklmnop=="


def _session(chip: Chip, **fields) -> ChipSession:
    ChipSession.objects.filter(chip=chip).update(**fields)
    return ChipSession.objects.get(chip=chip)


def _connect(admin_client, chip: Chip) -> tuple[dict, str]:
    data = admin_client.get(reverse("chips_admin:connect-json", args=[chip.pk])).json()
    page = admin_client.get(reverse("chips_admin:connect", args=[chip.pk])).content.decode()
    return data, page


# --- the connect screen ------------------------------------------------------------------------------


def test_an_expired_qr_is_not_offered_and_the_page_says_to_ask_for_a_new_one(admin_client):
    chip = ChipFactory(status="pending")
    now = timezone.now()
    _session(
        chip,
        state=SessionState.QR,
        qr_code=QR_PAYLOAD,
        qr_updated_at=now - timedelta(seconds=90),
        qr_expires_at=now - timedelta(seconds=30),
    )

    data, page = _connect(admin_client, chip)

    assert (data["qr_svg"], data["qr_image"], data["qr_updated_at"]) == ("", "", "")
    assert data["state_hint"] == "The QR code expired before it was scanned; ask for a new QR code."
    assert qr_svg(QR_PAYLOAD) not in page and "The QR code expired" in page
    assert data["can_connect"] is True and 'id="new-qr-form"' in page


def test_a_live_qr_says_until_when_it_can_be_scanned_even_while_evolution_says_connecting(admin_client):
    # Evolution's connectionState is "connecting" both while its QR waits and while the phone links.
    chip = ChipFactory(status="pending")
    now = timezone.now()
    _session(
        chip,
        state=SessionState.CONNECTING,
        qr_code=QR_PAYLOAD,
        qr_updated_at=now,
        qr_expires_at=now + timedelta(seconds=60),
    )

    data, page = _connect(admin_client, chip)

    assert data["qr_svg"] == qr_svg(QR_PAYLOAD)
    assert data["state_hint"].startswith("Scan the QR code")
    assert data["qr_expires_at"] and f"valid until {data['qr_expires_at']}" in page


@pytest.mark.parametrize("status", ["banned", "cancelled"])
def test_a_chip_out_of_service_shows_no_code_and_no_way_to_ask_for_one(admin_client, status):
    chip = ChipFactory(status=status)
    _session(
        chip, state=SessionState.PAIRING, qr_code=QR_PAYLOAD, pairing_code="WZYEH1YY", qr_updated_at=timezone.now()
    )

    data, page = _connect(admin_client, chip)

    assert (data["qr_svg"], data["pairing_code"], data["can_connect"]) == ("", "", False)
    assert data["state_hint"] == (
        f"This chip is {status}: it is out of service and cannot be linked to WhatsApp again."
    )
    assert "WZYEH1YY" not in page and qr_svg(QR_PAYLOAD) not in page
    assert '<div id="connect-actions" hidden>' in page


def test_a_connected_chip_does_not_show_when_its_last_qr_was_made(admin_client):
    chip = ChipFactory(status="warming")
    _session(chip, state=SessionState.CONNECTED, qr_updated_at=timezone.now())

    data, page = _connect(admin_client, chip)

    assert (data["qr_updated_at"], data["state_hint"]) == ("", "The number is connected.")
    assert '<p class="fleet-muted" id="qr-updated"></p>' in page


# --- the fleet and provisioning screens ----------------------------------------------------------------


def test_the_fleet_shows_no_health_score_for_chips_out_of_service(admin_client):
    banned = ChipFactory(status="banned")
    ready = ChipFactory(status="ready")

    page = admin_client.get(reverse("chips_admin:fleet")).content.decode()

    banned_row = page[page.index(f'id="chip-{banned.pk}"') :]
    banned_row = banned_row[: banned_row.index("</tr>")]
    ready_row = page[page.index(f'id="chip-{ready.pk}"') :]
    ready_row = ready_row[: ready_row.index("</tr>")]
    assert "out of service" in banned_row and "60 · fair" not in banned_row
    assert "60 · fair" in ready_row and "out of service" not in ready_row


def test_the_provisioning_form_preselects_the_only_gateway_that_can_take_the_number(admin_client, salvy):
    gateway = GatewayFactory(name="evo-main")
    GatewayFactory(name="evo-off", is_active=False)
    route_area_codes(salvy)

    form = admin_client.get(reverse("chips_admin:provision")).context["form"]

    assert form["gateway"].value() == gateway.pk
    assert [label for _, label in form.fields["gateway"].choices] == [str(gateway)]


def test_with_several_gateways_the_operator_still_chooses(admin_client, salvy):
    GatewayFactory(name="evo-a")
    GatewayFactory(name="evo-b")
    route_area_codes(salvy)

    form = admin_client.get(reverse("chips_admin:provision")).context["form"]

    assert form["gateway"].value() is None
    assert next(label for _, label in form.fields["gateway"].choices) == "---------"


# --- ban alerts name who banned the number ----------------------------------------------------------------


def test_a_ban_salvy_decided_is_not_announced_as_whatsapps(django_capture_on_commit_callbacks):
    chip = ChipFactory(status="pending")
    with django_capture_on_commit_callbacks(execute=True):
        chip_ban(chip_id=chip.pk, reason="Salvy blocked the number", triggered_by="task:sync_salvy")

    alert = ChipAlert.objects.get(chip=chip, kind="banned")
    assert alert.message.startswith(f"{chip.phone} is banned: Salvy blocked the number.")
    assert "WhatsApp banned" not in alert.message


def test_an_evolution_401_close_gives_a_ban_reason_that_names_the_code_once(client, django_capture_on_commit_callbacks):
    chip = ChipFactory(status=ChipStatus.WARMING, instance_name="acme-01", gateway__base_url=EVOLUTION_URL)
    body = copy.deepcopy(load_fixture("evolution/connection.update__close_logged_out_v2.json"))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/webhooks/evolution/",
            data=json.dumps(body).encode(),
            content_type="application/json",
            **evolution_headers(chip.gateway.webhook_secret),
        )

    assert response.status_code == 200
    transition = chip.transitions.get(to_status="banned")
    assert transition.reason == (
        "ban signal from the gateway, code 401: WhatsApp logged the number out: banned, or unlinked from the phone"
    )
    assert transition.reason.count("401") == 1


# --- numbers Salvy releases lose their gateway session ------------------------------------------------------


def _routes_session_end(router, instance: str):
    logout = router.delete(f"{EVOLUTION_URL}/instance/logout/{instance}").mock(
        return_value=evolution_done("Instance logged out")
    )
    delete = router.delete(f"{EVOLUTION_URL}/instance/delete/{instance}").mock(
        return_value=evolution_done("Instance deleted")
    )
    return logout, delete


def test_a_number_salvy_canceled_has_its_gateway_instance_removed(salvy, django_capture_on_commit_callbacks):
    gateway = GatewayFactory(name="evo-main", base_url=EVOLUTION_URL)
    chip = ChipFactory(gateway=gateway, salvy_id=ACCOUNT_ID, salvy_status="active", status="warming")
    route_list(salvy, [account(id=ACCOUNT_ID, status="canceled", cancelReason="company-canceled")])
    salvy.get(f"{SALVY_ROOT}/virtual-phone-accounts/{ACCOUNT_ID}/sms-messages").mock(
        return_value=httpx.Response(200, json={"smsMessages": [], "pagination": {"page": 1, "pageSize": 50}})
    )
    logout, delete = _routes_session_end(salvy, chip.instance_name)

    with django_capture_on_commit_callbacks(execute=True):
        report = salvy_sync()

    assert report.errors == [] and report.changed == 1
    assert Chip.objects.get(pk=chip.pk).status == "cancelled"
    assert (logout.call_count, delete.call_count) == (1, 1)
    assert ChipSession.objects.get(chip=chip).state == "logged_out"


def test_a_banned_number_released_at_salvy_has_its_gateway_instance_removed(salvy):
    gateway = GatewayFactory(name="evo-main", base_url=EVOLUTION_URL)
    chip = ChipFactory(gateway=gateway, salvy_id=ACCOUNT_ID, salvy_status="active", status="banned")
    route_cancel(salvy)
    logout, delete = _routes_session_end(salvy, chip.instance_name)

    assert tasks.cancel_at_salvy.apply(args=[chip.pk, "whatsapp-ban"]).get() is True

    assert Chip.objects.get(pk=chip.pk).status == "cancelled"
    assert (logout.call_count, delete.call_count) == (1, 1)


def test_a_release_that_moved_nothing_leaves_the_gateway_alone(salvy):
    # Already cancelled on our side (an operator did it): only Salvy is told; the gateway was handled then.
    gateway = GatewayFactory(name="evo-main", base_url=EVOLUTION_URL)
    chip = ChipFactory(gateway=gateway, salvy_id=ACCOUNT_ID, salvy_status="active", status="cancelled")
    route_cancel(salvy)
    logout, delete = _routes_session_end(salvy, chip.instance_name)

    assert tasks.cancel_at_salvy.apply(args=[chip.pk, "whatsapp-ban"]).get() is True

    assert (logout.call_count, delete.call_count) == (0, 0)


# --- provision_chip says where to connect ----------------------------------------------------------------


def test_provision_chip_prints_the_connect_screen_and_the_connect_command(salvy, settings):
    settings.PUBLIC_BASE_URL = "https://recado.example.com"
    GatewayFactory(name="evo-main", base_url=EVOLUTION_URL)
    route_area_codes(salvy)
    salvy.post(f"{SALVY_ROOT}/virtual-phone-accounts").mock(
        return_value=httpx.Response(200, json=account(phoneNumber=PHONE, status="active"))
    )
    salvy.post(f"{EVOLUTION_URL}/instance/create").mock(return_value=evolution_created("recado-5511987654321"))
    out = StringIO()

    call_command("provision_chip", "--ddd", "11", stdout=out, stderr=StringIO())

    chip = Chip.objects.get()
    output = out.getvalue()
    assert f"connect screen: https://recado.example.com/admin/chips/chip/{chip.pk}/connect/" in output
    assert f"python manage.py connect_chip {PHONE}" in output


def test_the_recent_jobs_say_why_a_job_failed(admin_client, salvy):
    route_area_codes(salvy)
    ProvisioningJob.objects.create(ddd="21", status="failed", error="no numbers left for DDD 21; pick another DDD")

    page = admin_client.get(reverse("chips_admin:provision")).content.decode()

    recent = page[page.index('id="recent-jobs"') :]
    assert "no numbers left for DDD 21; pick another DDD" in recent


# --- a linked number needs no more codes --------------------------------------------------------------------


def test_linking_the_number_resolves_its_code_received_alert(django_capture_on_commit_callbacks):
    chip = ChipFactory(status="pending")
    other = ChipFactory(status="pending")
    for target in (chip, other):
        alert_raise(chip_id=target.pk, kind="sms_code", severity="info", message="WhatsApp code 123456 received")

    with django_capture_on_commit_callbacks(execute=True):
        connection_event_apply(
            chip_id=chip.pk, update=ConnectionUpdate(state=SessionState.CONNECTED), triggered_by="webhook"
        )

    assert Chip.objects.get(pk=chip.pk).status == "warming"
    assert ChipAlert.objects.get(chip=chip, kind="sms_code").resolved_at is not None
    assert ChipAlert.objects.get(chip=other, kind="sms_code").resolved_at is None
