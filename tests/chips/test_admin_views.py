"""The fleet's operator screens through Django's test client: who may see them, what they show, what they change.

Salvy and the gateways are faked at the HTTP boundary (respx) with the shapes of their real answers.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
import respx
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from chips.admin_views import qr_svg
from chips.models import (
    AlertSeverity,
    Chip,
    ChipAlert,
    ChipSession,
    ChipTransition,
    ProvisioningJob,
    SessionState,
    SmsCode,
)
from chips.services import alert_raise
from conversations.models import Message
from tests.factories import ChipFactory, ConversationFactory, GatewayFactory
from tests.payloads import load_fixture

pytestmark = pytest.mark.django_db

SALVY = "https://salvy.test/api/v2"
AREA_CODES = f"{SALVY}/virtual-phone-accounts/area-codes"
QR_PAYLOAD = "2@abcDEF123,xyz987/+=,0123456789abcdef,ghijklmnop=="
PNG_DATA_URI = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


@pytest.fixture
def salvy(settings):
    settings.SALVY_API_URL = SALVY
    settings.SALVY_API_TOKEN = "salvy_test_token"
    with respx.mock(assert_all_called=False) as router:
        yield router


def _text(response) -> str:
    return response.content.decode()


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def _session(chip: Chip, **fields) -> ChipSession:
    ChipSession.objects.filter(chip=chip).update(**fields)
    return ChipSession.objects.get(chip=chip)


def _sms(chip: Chip | None, *, sms_id: str, code: str, text: str, minutes_ago: int) -> SmsCode:
    return SmsCode.objects.create(
        chip=chip,
        salvy_sms_id=sms_id,
        destination=chip.phone if chip else "",
        origin="23456",
        text=text,
        code=code,
        received_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


# --- access control -----------------------------------------------------------------------------


def _screen_urls(chip: Chip, job: ProvisioningJob, alert: ChipAlert, sms: SmsCode) -> dict[str, tuple[str, str]]:
    return {
        "fleet": ("get", reverse("chips_admin:fleet")),
        "provision": ("get", reverse("chips_admin:provision")),
        "progress": ("get", reverse("chips_admin:provisioning-progress", args=[job.pk])),
        "progress-json": ("get", reverse("chips_admin:provisioning-progress-json", args=[job.pk])),
        "connect": ("get", reverse("chips_admin:connect", args=[chip.pk])),
        "connect-json": ("get", reverse("chips_admin:connect-json", args=[chip.pk])),
        "connect-request": ("post", reverse("chips_admin:connect-request", args=[chip.pk])),
        "sms-used": ("post", reverse("chips_admin:sms-used", args=[chip.pk, sms.pk])),
        "transition": ("post", reverse("chips_admin:transition", args=[chip.pk])),
        "alert-resolve": ("post", reverse("chips_admin:alert-resolve", args=[alert.pk])),
    }


@pytest.fixture
def screen_objects():
    chip = ChipFactory(status="ready")
    job = ProvisioningJob.objects.create(ddd="11")
    alert = alert_raise(chip_id=chip.pk, kind="disconnected", message="lost the connection")
    sms = _sms(chip, sms_id="sms-1", code="123456", text="Seu código do WhatsApp: 123-456", minutes_ago=1)
    return chip, job, alert, sms


@pytest.mark.parametrize("who", ["anonymous", "not staff"])
def test_anonymous_and_non_staff_visitors_are_sent_to_the_login_and_change_nothing(client, screen_objects, who):
    chip, _, alert, sms = screen_objects
    if who == "not staff":
        client.force_login(get_user_model().objects.create_user(username="someone", password="x"))
    for name, (method, url) in _screen_urls(*screen_objects).items():
        data = {"to_status": "active", "reason": "r"} if name == "transition" else {}
        response = getattr(client, method)(url, data)
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("admin:login")), name
    assert Chip.objects.get(pk=chip.pk).status == "ready"
    assert ChipAlert.objects.get(pk=alert.pk).resolved_at is None
    assert SmsCode.objects.get(pk=sms.pk).used_at is None
    assert not ChipTransition.objects.filter(chip=chip).exists()


def test_staff_without_fleet_permissions_is_refused(client, screen_objects):
    chip, _, alert, _ = screen_objects
    client.force_login(get_user_model().objects.create_user(username="intern", password="x", is_staff=True))
    for name, (method, url) in _screen_urls(*screen_objects).items():
        response = getattr(client, method)(url, {"to_status": "active"})
        assert response.status_code == 403, name
    assert Chip.objects.get(pk=chip.pk).status == "ready"
    assert ChipAlert.objects.get(pk=alert.pk).resolved_at is None


def test_a_staff_member_with_view_permission_sees_the_fleet_but_cannot_change_it(client, screen_objects):
    chip = screen_objects[0]
    user = get_user_model().objects.create_user(username="viewer", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_chip", content_type__app_label="chips"))
    client.force_login(user)
    assert client.get(reverse("chips_admin:fleet")).status_code == 200
    response = client.post(reverse("chips_admin:transition", args=[chip.pk]), {"to_status": "active"})
    assert response.status_code == 403
    assert Chip.objects.get(pk=chip.pk).status == "ready"


def test_the_admin_index_and_the_chip_pages_link_the_screens(admin_client):
    chip = ChipFactory()
    index = _text(admin_client.get(reverse("admin:index")))
    assert reverse("chips_admin:fleet") in index and reverse("chips_admin:provision") in index
    changelist = _text(admin_client.get(reverse("admin:chips_chip_changelist")))
    assert "Provision a number" in changelist and reverse("chips_admin:provision") in changelist
    _sms(chip, sms_id="inline", code="654321", text="Seu código do WhatsApp: 654-321", minutes_ago=5)
    change = _text(admin_client.get(reverse("admin:chips_chip_change", args=[chip.pk])))
    assert reverse("chips_admin:connect", args=[chip.pk]) in change
    assert "654321" in change  # the SMS codes inline, read-only, beside the audit trail


# --- provisioning -------------------------------------------------------------------------------


def test_the_provisioning_form_offers_the_ddds_salvy_has_in_stock_and_the_active_gateways(admin_client, salvy):
    route = salvy.get(AREA_CODES).respond(200, json=load_fixture("salvy/area_codes.json"))
    active = GatewayFactory(name="evo-main")
    GatewayFactory(name="evo-retired", is_active=False)
    GatewayFactory(name="meta", kind="cloudapi")  # numbers there are registered, not paired: not offered
    GatewayFactory(name="zapi", kind="zapi")  # each number is an instance made in Z-API's panel: not offered

    response = admin_client.get(reverse("chips_admin:provision"))

    assert response.status_code == 200
    assert route.called and route.calls.last.request.url.params["available"] == "true"
    form = response.context["form"]
    assert [value for value, _ in form.fields["ddd"].choices] == ["11", "31"]  # 21 has no stock
    assert list(form.fields["gateway"].queryset) == [active]
    page = _text(response)
    assert '<option value="11">11</option>' in page and '<option value="21">' not in page


def test_the_ddd_list_is_reused_for_a_while_when_configured(admin_client, salvy, settings):
    settings.SALVY_AREA_CODES_CACHE_SECONDS = 60
    cache.delete("chips:salvy:available-ddds")
    route = salvy.get(AREA_CODES).respond(200, json=load_fixture("salvy/area_codes.json"))
    GatewayFactory()

    first = admin_client.get(reverse("chips_admin:provision"))
    second = admin_client.get(reverse("chips_admin:provision"))
    cache.delete("chips:salvy:available-ddds")

    assert route.call_count == 1
    assert [value for value, _ in second.context["form"].fields["ddd"].choices] == ["11", "31"]
    assert first.context["form"].fields["ddd"].choices == second.context["form"].fields["ddd"].choices


@pytest.mark.parametrize(
    ("configured", "answer", "expected"),
    [
        (False, None, "Salvy is not configured: set SALVY_API_TOKEN"),
        (True, httpx.Response(401, json={"code": "unauthorized", "message": "x"}), "Salvy rejected the API token"),
    ],
)
def test_when_salvy_cannot_list_ddds_the_page_says_why_instead_of_crashing(
    admin_client, salvy, settings, configured, answer, expected
):
    if not configured:
        settings.SALVY_API_TOKEN = ""
    else:
        salvy.get(AREA_CODES).mock(return_value=answer)
    GatewayFactory()

    response = admin_client.get(reverse("chips_admin:provision"))

    assert response.status_code == 200
    page = _text(response)
    assert expected in page
    assert 'value="Buy and set up the number" disabled' in page


def test_submitting_the_form_creates_a_job_and_opens_its_progress_page(admin_client, salvy):
    salvy.get(AREA_CODES).respond(200, json=load_fixture("salvy/area_codes.json"))
    gateway = GatewayFactory()

    response = admin_client.post(
        reverse("chips_admin:provision"), {"ddd": "11", "name": "vendas", "gateway": gateway.pk}
    )

    job = ProvisioningJob.objects.get()
    assert (job.ddd, job.name, job.gateway, job.requested_by) == ("11", "vendas", gateway, "user:admin")
    assert response.status_code == 302
    assert response["Location"] == reverse("chips_admin:provisioning-progress", args=[job.pk])


@pytest.mark.parametrize(
    ("ddd", "gateway_active", "error"),
    [
        ("21", True, "Select a valid choice"),  # Salvy has no stock there
        ("99", True, "Select a valid choice"),
        ("", True, "This field is required"),
        ("11", False, "Select a valid choice"),  # an inactive gateway cannot take a new number
    ],
)
def test_a_bad_provisioning_request_is_refused_with_a_clear_message(admin_client, salvy, ddd, gateway_active, error):
    salvy.get(AREA_CODES).respond(200, json=load_fixture("salvy/area_codes.json"))
    gateway = GatewayFactory(is_active=gateway_active)

    response = admin_client.post(reverse("chips_admin:provision"), {"ddd": ddd, "gateway": gateway.pk})

    assert response.status_code == 200
    assert error in _text(response)
    assert not ProvisioningJob.objects.exists()


def test_the_progress_endpoint_reports_the_steps_and_the_new_number(admin_client):
    chip = ChipFactory(status="pending", phone="+5511951231234")
    job = ProvisioningJob.objects.create(
        ddd="11",
        status="succeeded",
        phone=chip.phone,
        chip=chip,
        steps=[
            {"at": "2026-01-05T12:00:00+00:00", "step": "stock", "detail": "DDD 11 has numbers"},
            {"at": "2026-01-05T12:00:01+00:00", "step": "bought", "detail": "+5511951231234"},
        ],
    )

    data = admin_client.get(reverse("chips_admin:provisioning-progress-json", args=[job.pk])).json()

    assert data["finished"] is True and data["status"] == "succeeded"
    assert [(s["step"], s["detail"]) for s in data["steps"]] == [
        ("stock", "DDD 11 has numbers"),
        ("bought", "+5511951231234"),
    ]
    assert data["steps"][0]["at"] == "2026-01-05 12:00:00 UTC"
    assert data["phone"] == "+5511951231234"
    assert data["connect_url"] == reverse("chips_admin:connect", args=[chip.pk])
    page = _text(admin_client.get(reverse("chips_admin:provisioning-progress", args=[job.pk])))
    assert "+5511951231234" in page and "Connect it to WhatsApp" in page and "DDD 11 has numbers" in page


def test_a_failed_job_shows_its_reason_and_no_connect_link(admin_client):
    job = ProvisioningJob.objects.create(
        ddd="11", status="failed", error="no numbers left for DDD 11; pick another DDD"
    )

    data = admin_client.get(reverse("chips_admin:provisioning-progress-json", args=[job.pk])).json()
    page = _text(admin_client.get(reverse("chips_admin:provisioning-progress", args=[job.pk])))

    assert data["finished"] is True and data["connect_url"] == ""
    assert "Provisioning failed: no numbers left for DDD 11; pick another DDD" in page
    assert ">Open the connect screen</a>" not in page


def test_a_job_that_failed_after_recording_the_chip_links_to_its_connect_screen(admin_client):
    chip = ChipFactory(status="provisioned")
    job = ProvisioningJob.objects.create(
        ddd="11", status="failed", chip=chip, phone=chip.phone, error="the gateway session could not be created"
    )

    data = admin_client.get(reverse("chips_admin:provisioning-progress-json", args=[job.pk])).json()

    assert data["connect_url"] == reverse("chips_admin:connect", args=[chip.pk])
    assert ">Open the connect screen</a>" in _text(
        admin_client.get(reverse("chips_admin:provisioning-progress", args=[job.pk]))
    )


def test_an_unknown_job_is_a_clear_not_found(admin_client):
    response = admin_client.get(reverse("chips_admin:provisioning-progress-json", args=[404]))
    assert response.status_code == 404 and response.json() == {"error": "there is no provisioning job with id 404"}
    page = admin_client.get(reverse("chips_admin:provisioning-progress", args=[404]), follow=True)
    assert "There is no provisioning job with id 404." in _messages(page)


def test_provisioning_jobs_are_listed_read_only_in_the_admin(admin_client):
    job = ProvisioningJob.objects.create(ddd="31", status="running", requested_by="user:admin")
    page = _text(admin_client.get(reverse("admin:chips_provisioningjob_changelist")))
    assert reverse("chips_admin:provisioning-progress", args=[job.pk]) in page
    assert admin_client.get(reverse("admin:chips_provisioningjob_add")).status_code == 403


# --- connect ------------------------------------------------------------------------------------


def test_the_connect_page_draws_the_qr_as_svg_and_lists_sms_codes_newest_first(admin_client):
    chip = ChipFactory(status="pending")
    _session(chip, state=SessionState.QR, qr_code=QR_PAYLOAD, qr_updated_at=timezone.now())
    _sms(chip, sms_id="old", code="111111", text="Seu código do WhatsApp: 111-111", minutes_ago=30)
    _sms(chip, sms_id="new", code="222222", text="Seu código do WhatsApp: 222-222", minutes_ago=2)
    _sms(ChipFactory(), sms_id="other", code="999999", text="another chip's code", minutes_ago=1)

    page = _text(admin_client.get(reverse("chips_admin:connect", args=[chip.pk])))
    data = admin_client.get(reverse("chips_admin:connect-json", args=[chip.pk])).json()

    assert data["state"] == "qr"
    assert data["qr_svg"].startswith("<svg") and data["qr_svg"] == qr_svg(QR_PAYLOAD)
    assert data["qr_svg"] in page
    assert [sms["code"] for sms in data["sms_codes"]] == ["222222", "111111"]
    assert page.index("222222") < page.index("111111") and "999999" not in page
    assert "Scan the QR code" in page


def test_a_new_qr_from_the_gateway_changes_the_svg(admin_client):
    chip = ChipFactory(status="pending")
    _session(chip, state=SessionState.QR, qr_code=QR_PAYLOAD)
    first = admin_client.get(reverse("chips_admin:connect-json", args=[chip.pk])).json()["qr_svg"]
    _session(chip, qr_code=QR_PAYLOAD + "-renewed")
    second = admin_client.get(reverse("chips_admin:connect-json", args=[chip.pk])).json()["qr_svg"]
    assert first and second and first != second


def test_a_gateway_that_sends_only_a_picture_gets_it_shown_and_nothing_else_goes_into_img(admin_client):
    chip = ChipFactory(status="pending")
    _session(chip, state=SessionState.QR, qr_image=PNG_DATA_URI)
    data = admin_client.get(reverse("chips_admin:connect-json", args=[chip.pk])).json()
    assert (data["qr_svg"], data["qr_image"]) == ("", PNG_DATA_URI)
    assert f'src="{PNG_DATA_URI}"' in _text(admin_client.get(reverse("chips_admin:connect", args=[chip.pk])))

    _session(chip, qr_image="javascript:alert(1)")
    assert admin_client.get(reverse("chips_admin:connect-json", args=[chip.pk])).json()["qr_image"] == ""


def test_a_payload_too_long_for_a_qr_shows_no_qr_rather_than_an_error(admin_client):
    chip = ChipFactory(status="pending")
    _session(chip, state=SessionState.QR, qr_code="2@" + "x" * 5000)
    response = admin_client.get(reverse("chips_admin:connect-json", args=[chip.pk]))
    assert response.status_code == 200 and response.json()["qr_svg"] == ""


def test_the_pairing_code_is_shown_and_a_connected_chip_shows_no_qr(admin_client):
    chip = ChipFactory(status="pending")
    _session(chip, state=SessionState.PAIRING, pairing_code="WZYEH1YY")
    page = _text(admin_client.get(reverse("chips_admin:connect", args=[chip.pk])))
    assert "WZYEH1YY" in page and "Enter the pairing code" in page

    _session(chip, state=SessionState.CONNECTED, qr_code=QR_PAYLOAD, last_connected_at=timezone.now())
    data = admin_client.get(reverse("chips_admin:connect-json", args=[chip.pk])).json()
    assert (data["state"], data["qr_svg"], data["pairing_code"]) == ("connected", "", "")


def test_connect_for_an_unknown_chip_is_a_clear_message(admin_client):
    response = admin_client.get(reverse("chips_admin:connect", args=[9999]), follow=True)
    assert "There is no chip with id 9999; it may have been deleted." in _messages(response)
    json_response = admin_client.get(reverse("chips_admin:connect-json", args=[9999]))
    assert json_response.status_code == 404 and json_response.json()["error"] == "there is no chip with id 9999"


def test_marking_a_code_used_records_it_once(admin_client):
    chip = ChipFactory(status="pending")
    sms = _sms(chip, sms_id="s1", code="123456", text="Seu código do WhatsApp: 123-456", minutes_ago=1)

    response = admin_client.post(reverse("chips_admin:sms-used", args=[chip.pk, sms.pk]), follow=True)

    sms.refresh_from_db()
    assert sms.used_at is not None
    assert "Code 123456 marked as used." in _messages(response)
    data = admin_client.get(reverse("chips_admin:connect-json", args=[chip.pk])).json()
    assert data["sms_codes"][0]["used_at"]


def test_marking_a_code_twice_says_it_already_was(admin_client):
    chip = ChipFactory(status="pending")
    sms = _sms(chip, sms_id="s1", code="123456", text="code 123456", minutes_ago=1)
    admin_client.post(reverse("chips_admin:sms-used", args=[chip.pk, sms.pk]))
    first_use = SmsCode.objects.get(pk=sms.pk).used_at

    response = admin_client.post(reverse("chips_admin:sms-used", args=[chip.pk, sms.pk]), follow=True)

    assert "Code 123456 was already marked as used." in _messages(response)
    assert SmsCode.objects.get(pk=sms.pk).used_at == first_use


def test_a_code_of_another_chip_or_an_unknown_one_is_not_marked(admin_client):
    chip, other = ChipFactory(), ChipFactory()
    sms = _sms(other, sms_id="s1", code="123456", text="code 123456", minutes_ago=1)

    response = admin_client.post(reverse("chips_admin:sms-used", args=[chip.pk, sms.pk]), follow=True)
    missing = admin_client.post(reverse("chips_admin:sms-used", args=[chip.pk, 424242]), follow=True)

    assert f"Chip {chip.pk} has no SMS with id {sms.pk}." in _messages(response)
    assert f"Chip {chip.pk} has no SMS with id 424242." in _messages(missing)
    assert SmsCode.objects.get(pk=sms.pk).used_at is None


@pytest.fixture
def evolution():
    with respx.mock(base_url="http://evolution.test:8080", assert_all_called=False) as router:
        yield router


def test_new_qr_code_asks_the_gateway_and_shows_its_qr(admin_client, evolution):
    chip = ChipFactory(status="pending", instance_name="acme-qr")
    route = evolution.get("/instance/connect/acme-qr").respond(
        200, json={"pairingCode": None, "code": QR_PAYLOAD, "base64": PNG_DATA_URI, "count": 1}
    )

    response = admin_client.post(reverse("chips_admin:connect-request", args=[chip.pk]), follow=True)

    assert route.called and "number" not in route.calls.last.request.url.params
    assert "New QR code requested." in _messages(response)
    session = ChipSession.objects.get(chip=chip)
    assert (session.state, session.qr_code) == ("qr", QR_PAYLOAD)
    assert qr_svg(QR_PAYLOAD) in _text(response)


def test_a_pairing_code_is_asked_for_the_phone_typed(admin_client, evolution):
    chip = ChipFactory(status="pending", instance_name="acme-pair")
    route = evolution.get("/instance/connect/acme-pair").respond(
        200, json={"pairingCode": "WZYEH1YY", "code": QR_PAYLOAD, "base64": PNG_DATA_URI, "count": 1}
    )

    response = admin_client.post(
        reverse("chips_admin:connect-request", args=[chip.pk]), {"pairing_phone": "+55 11 98765-4321"}, follow=True
    )

    assert route.calls.last.request.url.params["number"] == "5511987654321"
    assert "Pairing code requested for +5511987654321." in _messages(response)
    assert ChipSession.objects.get(chip=chip).pairing_code == "WZYEH1YY"
    assert "WZYEH1YY" in _text(response)


def test_a_gateway_error_is_a_message_and_the_session_is_left_alone(admin_client, evolution):
    chip = ChipFactory(status="pending", instance_name="acme-down")
    _session(chip, state=SessionState.QR, qr_code=QR_PAYLOAD)
    evolution.get("/instance/connect/acme-down").respond(
        401, json={"status": 401, "error": "Unauthorized", "response": {"message": "Unauthorized"}}
    )

    response = admin_client.post(reverse("chips_admin:connect-request", args=[chip.pk]), follow=True)

    assert response.status_code == 200
    [message] = _messages(response)
    assert message.startswith("The gateway did not give a QR code:")
    session = ChipSession.objects.get(chip=chip)
    assert (session.state, session.qr_code) == ("qr", QR_PAYLOAD)


def test_a_bad_pairing_phone_is_refused_before_calling_the_gateway(admin_client, evolution):
    chip = ChipFactory(status="pending", instance_name="acme-typo")
    route = evolution.get("/instance/connect/acme-typo").respond(200, json={"code": QR_PAYLOAD})

    response = admin_client.post(
        reverse("chips_admin:connect-request", args=[chip.pk]), {"pairing_phone": "call me"}, follow=True
    )

    assert "'call me' is not a phone number" in " ".join(_messages(response))
    assert not route.called
    assert ChipSession.objects.get(chip=chip).qr_code == ""


def test_a_banned_chip_cannot_be_connected_and_says_so(admin_client, evolution):
    chip = ChipFactory(status="banned", instance_name="acme-banned")
    route = evolution.get("/instance/connect/acme-banned").respond(200, json={"code": QR_PAYLOAD})

    response = admin_client.post(reverse("chips_admin:connect-request", args=[chip.pk]), follow=True)

    assert f"chip {chip.phone} is banned: it cannot be connected" in " ".join(_messages(response))
    assert not route.called


# --- fleet --------------------------------------------------------------------------------------


def _message(chip: Chip, *, direction: str, status: str, hours_ago: float, proactive: bool = False):
    at = timezone.now() - timedelta(hours=hours_ago)
    conversation = ConversationFactory(chip=chip)
    return Message.objects.create(
        conversation=conversation,
        chip=chip,
        direction=direction,
        origin="agent" if direction == "out" else "contact",
        provider="evolution",
        status=status,
        status_rank={"sent": 20, "failed": 25, "delivered": 30, "read": 40}.get(status, 0),
        sent_at=at if direction == "out" else None,
        proactive=proactive,
        text="oi",
    )


def test_the_fleet_groups_chips_by_status_with_their_figures(admin_client, settings):
    settings.CHIP_WARMUP_PLAN = "0:20,3:50,7:100"
    warming = ChipFactory(
        status="warming", warmup_started_at=timezone.now() - timedelta(days=3), phone="+5511900000001"
    )
    ChipFactory(status="ready", phone="+5511900000002")
    ChipFactory(status="ready", phone="+5511900000003")
    ChipFactory(status="cancelled", phone="+5511900000004")
    _session(warming, state=SessionState.CONNECTED)
    # Proactive sends of a minute ago: "today" is the chip time zone's day.
    _message(warming, direction="out", status="delivered", hours_ago=0.01, proactive=True)
    _message(warming, direction="out", status="read", hours_ago=0.02, proactive=True)
    _message(warming, direction="out", status="failed", hours_ago=3)
    _message(warming, direction="out", status="delivered", hours_ago=72)  # in the week, not the day
    _message(warming, direction="in", status="processed", hours_ago=1)

    response = admin_client.get(reverse("chips_admin:fleet"))

    assert response.status_code == 200
    counts = dict(response.context["counts"])
    assert (counts["warming"], counts["ready"], counts["cancelled"], counts["banned"]) == (1, 2, 1, 0)
    [row] = [row for group in response.context["groups"] for row in group.rows if row.chip == warming]
    assert (row.warmup_day, row.sent_today, row.session_state) == (3, 2, "connected")
    assert row.cap == 50  # day 3 of the plan
    assert [value for value, _ in row.targets] == ["ready", "banned", "cancelled"]
    page = _text(response)
    assert "3 sent · 2 delivered" in page and "1 read · 1 failed · 1 replies" in page  # last 24 h
    assert "4 sent · 3 delivered" in page  # last 7 days
    assert "2 / 50 today" in page and "day 3" in page
    assert "too few sends to judge" in page
    assert page.index('id="status-warming"') < page.index('id="status-ready"') < page.index('id="status-cancelled"')


def test_the_fleet_screen_costs_the_same_queries_for_three_chips_or_twelve(admin_client):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(reverse("chips_admin:fleet")).status_code == 200
        return len(captured)

    for status in ("warming", "ready", "active"):
        ChipFactory(status=status)
    few = queries()
    for status in ("warming", "ready", "active", "degraded", "banned", "pending", "ready", "ready", "ready"):
        chip = ChipFactory(status=status)
        alert_raise(chip_id=chip.pk, kind="disconnected", message="lost")
    assert queries() == few


def test_an_open_alert_is_resolved_from_the_fleet_screen(admin_client):
    chip = ChipFactory(status="degraded")
    alert = alert_raise(chip_id=chip.pk, kind="disconnected", message="chip lost its connection", severity="warning")
    assert "chip lost its connection" in _text(admin_client.get(reverse("chips_admin:fleet")))

    response = admin_client.post(reverse("chips_admin:alert-resolve", args=[alert.pk]), follow=True)

    assert ChipAlert.objects.get(pk=alert.pk).resolved_at is not None
    assert "Resolved: chip lost its connection" in _messages(response)
    assert f'data-alert-id="{alert.pk}"' not in _text(response)
    again = admin_client.post(reverse("chips_admin:alert-resolve", args=[alert.pk]), follow=True)
    assert "The alert “chip lost its connection” was already resolved." in _messages(again)
    unknown = admin_client.post(reverse("chips_admin:alert-resolve", args=[777]), follow=True)
    assert "There is no alert with id 777." in _messages(unknown)


def test_an_allowed_transition_moves_the_chip_with_an_audit_row(admin_client):
    chip = ChipFactory(status="ready")

    response = admin_client.post(
        reverse("chips_admin:transition", args=[chip.pk]),
        {"to_status": "active", "reason": "ready to sell"},
        follow=True,
    )

    assert Chip.objects.get(pk=chip.pk).status == "active"
    audit = ChipTransition.objects.get(chip=chip)
    assert (audit.from_status, audit.to_status, audit.reason, audit.triggered_by) == (
        "ready",
        "active",
        "ready to sell",
        "user:admin",
    )
    assert f"Chip {chip.phone} moved from ready to active." in _messages(response)
    assert "ready to sell" in _text(response)  # the audit trail on the fleet screen


@pytest.mark.parametrize(
    ("status", "to_status", "message"),
    [
        ("cancelled", "active", "Not changed: chip {phone} cannot go from cancelled to active."),
        ("pending", "active", "Not changed: chip {phone} cannot go from pending to active."),
        ("ready", "sleeping", "'sleeping' is not a chip status."),
        ("ready", "", "'' is not a chip status."),
    ],
)
def test_a_refused_transition_says_why_and_changes_nothing(admin_client, status, to_status, message):
    chip = ChipFactory(status=status)

    response = admin_client.post(
        reverse("chips_admin:transition", args=[chip.pk]), {"to_status": to_status}, follow=True
    )

    assert message.format(phone=chip.phone) in _messages(response)
    assert Chip.objects.get(pk=chip.pk).status == status
    assert not ChipTransition.objects.filter(chip=chip).exists()


def test_a_transition_of_an_unknown_chip_is_a_clear_message(admin_client):
    response = admin_client.post(reverse("chips_admin:transition", args=[31337]), {"to_status": "active"}, follow=True)
    assert "There is no chip with id 31337; it may have been deleted." in _messages(response)
    assert not ChipTransition.objects.exists()


def test_a_ban_from_the_fleet_screen_goes_through_the_ban_service(admin_client):
    chip = ChipFactory(status="active")

    admin_client.post(
        reverse("chips_admin:transition", args=[chip.pk]), {"to_status": "banned", "reason": "WhatsApp said so"}
    )

    assert Chip.objects.get(pk=chip.pk).status == "banned"
    alert = ChipAlert.objects.get(chip=chip, resolved_at__isnull=True)
    assert (alert.kind, alert.severity) == ("banned", AlertSeverity.CRITICAL)
    assert ChipTransition.objects.get(chip=chip).triggered_by == "user:admin"


def test_cancelling_a_salvy_number_releases_it_at_salvy(admin_client, salvy, evolution):
    chip = ChipFactory(status="pending", salvy_id="acc-1", salvy_status="active", instance_name="acme-gone")
    released = salvy.delete(f"{SALVY}/virtual-phone-accounts/acc-1").respond(204)
    evolution.delete("/instance/logout/acme-gone").respond(200, json={"status": "SUCCESS", "error": False})
    evolution.delete("/instance/delete/acme-gone").respond(200, json={"status": "SUCCESS", "error": False})
    fleet = admin_client.get(reverse("chips_admin:fleet"))
    [row] = [row for group in fleet.context["groups"] for row in group.rows]
    assert ("cancelled:technical-issues", "cancelled, released at Salvy (technical-issues)") in row.targets

    response = admin_client.post(
        reverse("chips_admin:transition", args=[chip.pk]), {"to_status": "cancelled:technical-issues"}, follow=True
    )

    assert released.calls.last.request.url.params["reason"] == "technical-issues"
    chip.refresh_from_db()
    assert (chip.status, chip.salvy_status) == ("cancelled", "canceled")
    assert ChipTransition.objects.get(chip=chip).triggered_by == "user:admin"
    assert f"Chip {chip.phone} moved from pending to cancelled." in _messages(response)


def test_a_number_salvy_refuses_to_release_stays_as_it_was(admin_client, salvy):
    chip = ChipFactory(status="pending", salvy_id="acc-2", salvy_status="active")
    salvy.delete(f"{SALVY}/virtual-phone-accounts/acc-2").respond(
        403, json={"code": "forbidden", "message": "no", "publicDetails": {}}
    )

    response = admin_client.post(
        reverse("chips_admin:transition", args=[chip.pk]), {"to_status": "cancelled:unnecessary"}, follow=True
    )

    [message] = _messages(response)
    assert message.startswith(f"Not changed: Salvy did not cancel {chip.phone}")
    chip.refresh_from_db()
    assert (chip.status, chip.salvy_status) == ("pending", "active")
    assert not ChipTransition.objects.filter(chip=chip).exists()
