"""Gateway sessions through the provider interface, faked at the HTTP boundary with the gateways' answers."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
import respx
from django.core.exceptions import ValidationError

from chips.lifecycle import ChipStatus
from chips.models import Chip, ChipAlert, ChipSession, ChipTransition
from chips.sessions import (
    chip_session_connect,
    chip_session_logout,
    chip_session_open,
    chip_session_refresh,
    chip_webhook_headers,
    chip_webhook_url,
)
from integrations.providers.base import NotSupported, ProviderError
from tests.factories import ChipFactory

pytestmark = pytest.mark.django_db

EVO = "http://evo.test:8080"
WAHA = "http://waha.test:3000"
ZAPI = "https://api.z-api.io"
PUBLIC = "https://recado.example.com"
QR = "2@xCLTLQpXqmnR1jld2wKbVGmXchdVSFR3QHQa+6BNF8EK8VeoKUTYklFySHt0rrgknAPgwBkD7y1IIQ==,Xl787d38Gmn0wbPMtlvd47V="
PNG = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@pytest.fixture(autouse=True)
def public_url(settings):
    settings.PUBLIC_BASE_URL = PUBLIC


@pytest.fixture
def evo_chip():
    return ChipFactory(
        status=ChipStatus.PROVISIONED,
        instance_name="acme-01",
        phone="+5511987654321",
        gateway__base_url=EVO,
        gateway__api_key="global-api-key",
        gateway__webhook_secret="evo-webhook-secret-0123456789",
    )


@pytest.fixture
def evo():
    with respx.mock(base_url=EVO, assert_all_called=True) as router:
        yield router


def evo_created(state="close") -> dict:
    """`POST /instance/create` 201 without `qrcode` (we ask for the QR later, when someone can scan it)."""
    return {
        "instance": {
            "instanceName": "acme-01",
            "instanceId": "628e74c4-f457-463e-a903-113e19b8e794",
            "integration": "WHATSAPP-BAILEYS",
            "webhookWaBusiness": None,
            "accessTokenWaBusiness": "",
            "status": state,
        },
        "hash": "9C4F2A1B-6E3D-4B8A-A1F0-7D2C5E9B3A14",
        "webhook": {},
        "settings": {"rejectCall": False, "groupsIgnore": True},
    }


def evo_record(**fields) -> list[dict]:
    """`GET /instance/fetchInstances?instanceName=…`: the stored instance record."""
    record = {
        "id": "628e74c4-f457-463e-a903-113e19b8e794",
        "name": "acme-01",
        "connectionStatus": "close",
        "ownerJid": None,
        "integration": "WHATSAPP-BAILEYS",
        "disconnectionReasonCode": None,
        "disconnectionAt": None,
    }
    return [record | fields]


def transitions(chip) -> list[tuple[str, str]]:
    return list(
        ChipTransition.objects.filter(chip=chip).order_by("created_at", "id").values_list("from_status", "to_status")
    )


# --- our webhook URL and headers ------------------------------------------------------------------------


def test_webhook_url_per_provider_carries_the_secret_only_where_the_url_is_the_credential():
    evolution = ChipFactory(gateway__kind="evolution").gateway
    waha = ChipFactory(gateway__kind="waha").gateway
    zapi = ChipFactory(gateway__kind="zapi", gateway__webhook_secret="zapi-path-secret-0123456789").gateway
    sandbox = ChipFactory(gateway__kind="sandbox").gateway

    assert chip_webhook_url(evolution) == f"{PUBLIC}/webhooks/evolution/"
    assert chip_webhook_url(sandbox) == f"{PUBLIC}/webhooks/evolution/"
    assert chip_webhook_url(waha) == f"{PUBLIC}/webhooks/waha/"
    assert chip_webhook_url(zapi) == f"{PUBLIC}/webhooks/zapi/zapi-path-secret-0123456789/"

    assert chip_webhook_headers(evolution) == {"X-Webhook-Token": evolution.webhook_secret}
    assert chip_webhook_headers(sandbox) == {"X-Webhook-Token": sandbox.webhook_secret}
    assert chip_webhook_headers(waha) == {}  # WAHA signs with the secret (HMAC) instead
    assert chip_webhook_headers(zapi) == {}  # the secret is in the URL


def test_webhook_url_we_build_is_the_one_our_endpoint_accepts(client):
    zapi = ChipFactory(
        gateway__kind="zapi", gateway__webhook_secret="zapi-path-secret-0123456789", instance_name="3C67AB64"
    )
    path = chip_webhook_url(zapi.gateway).removeprefix(PUBLIC)
    body = {"type": "ConnectedCallback", "connected": True, "momment": 1757333824580, "instanceId": "3C67AB64"}
    assert client.post(path, data=json.dumps(body), content_type="application/json").status_code == 200


# --- open -----------------------------------------------------------------------------------------------


def test_open_creates_the_instance_with_our_webhook_and_moves_the_chip_to_pending(evo_chip, evo):
    create = evo.post("/instance/create").respond(201, json=evo_created())
    session = chip_session_open(chip_id=evo_chip.pk, triggered_by="task:provision")

    body = json.loads(create.calls.last.request.content)
    assert body["instanceName"] == "acme-01"
    assert body["webhook"]["url"] == f"{PUBLIC}/webhooks/evolution/"
    assert body["webhook"]["headers"]["X-Webhook-Token"] == "evo-webhook-secret-0123456789"
    assert "CONNECTION_UPDATE" in body["webhook"]["events"] and "QRCODE_UPDATED" in body["webhook"]["events"]
    assert create.calls.last.request.headers["apikey"] == "global-api-key"

    assert session.state == "created"
    assert Chip.objects.get(pk=evo_chip.pk).status == ChipStatus.PENDING
    row = ChipTransition.objects.get(chip=evo_chip)
    assert (row.from_status, row.to_status, row.triggered_by) == ("provisioned", "pending", "task:provision")


def test_open_of_an_instance_that_is_already_linked_starts_the_warm_up(evo_chip, evo):
    evo.post("/instance/create").respond(201, json=evo_created(state="open"))
    chip_session_open(chip_id=evo_chip.pk, triggered_by="command")
    assert transitions(evo_chip) == [("provisioned", "pending"), ("pending", "warming")]


def test_open_that_the_gateway_refuses_changes_nothing(evo_chip, evo):
    evo.post("/instance/create").respond(
        401, json={"status": 401, "error": "Unauthorized", "response": {"message": "Unauthorized"}}
    )
    with pytest.raises(ProviderError) as failure:
        chip_session_open(chip_id=evo_chip.pk, triggered_by="task:provision")
    assert failure.value.permanent
    assert Chip.objects.get(pk=evo_chip.pk).status == ChipStatus.PROVISIONED
    assert ChipTransition.objects.count() == 0
    assert ChipSession.objects.get(chip=evo_chip).state == "created"


def test_gateway_down_during_open_is_a_transient_error(evo_chip, evo):
    evo.post("/instance/create").mock(side_effect=httpx.ConnectError("connection refused"))
    with pytest.raises(ProviderError) as failure:
        chip_session_open(chip_id=evo_chip.pk, triggered_by="task:provision")
    assert not failure.value.permanent
    assert Chip.objects.get(pk=evo_chip.pk).status == ChipStatus.PROVISIONED


@pytest.mark.parametrize("kind", ["cloudapi", "whaticket"])
def test_gateway_that_pairs_numbers_elsewhere_gets_no_call_and_a_clear_outcome(kind):
    chip = ChipFactory(status=ChipStatus.PROVISIONED, gateway__kind=kind, gateway__base_url="https://gw.test")
    with respx.mock(assert_all_called=False) as router:
        anything = router.route()
        session = chip_session_open(chip_id=chip.pk, triggered_by="task:provision")
    assert anything.call_count == 0
    assert "not paired here" in session.detail
    assert Chip.objects.get(pk=chip.pk).status == ChipStatus.PENDING
    with pytest.raises(NotSupported):
        chip_session_connect(chip_id=chip.pk)


def test_zapi_open_points_every_webhook_at_our_secret_url():
    chip = ChipFactory(
        status=ChipStatus.PROVISIONED,
        gateway__kind="zapi",
        gateway__base_url=ZAPI,
        gateway__api_key="client-token-1",
        gateway__webhook_secret="zapi-path-secret-0123456789",
        instance_name="3C67AB641C8AA0412F6A2242B4E23AC7",
        instance_token="F0E1D2C3B4A5968778695A4B",
    )
    prefix = "/instances/3C67AB641C8AA0412F6A2242B4E23AC7/token/F0E1D2C3B4A5968778695A4B"
    with respx.mock(base_url=ZAPI, assert_all_called=True) as router:
        hooks = router.put(f"{prefix}/update-every-webhooks").respond(200, json={"value": True})
        router.get(f"{prefix}/status").respond(
            200, json={"connected": False, "error": "You are not connected.", "smartphoneConnected": False}
        )
        session = chip_session_open(chip_id=chip.pk, triggered_by="task:provision")
    sent = json.loads(hooks.calls.last.request.content)
    assert sent["value"] == f"{PUBLIC}/webhooks/zapi/zapi-path-secret-0123456789/"
    assert session.state == "disconnected"
    chip.refresh_from_db()
    assert chip.status == ChipStatus.PENDING
    assert ChipAlert.objects.filter(chip=chip).count() == 0  # not connected yet is not an outage


def test_banned_chip_is_not_reconnected(evo):
    chip = ChipFactory(status=ChipStatus.BANNED, gateway__base_url=EVO)
    for call in (chip_session_open, chip_session_connect):
        kwargs = {"triggered_by": "t"} if call is chip_session_open else {}
        with pytest.raises(ValidationError, match="banned"):
            call(chip_id=chip.pk, **kwargs)


# --- connect --------------------------------------------------------------------------------------------


def test_connect_stores_the_new_qr_with_its_picture_and_expiry(evo_chip, evo):
    Chip.objects.filter(pk=evo_chip.pk).update(status=ChipStatus.PENDING)
    evo.get("/instance/connect/acme-01").respond(200, json={"pairingCode": None, "code": QR, "base64": PNG, "count": 1})
    session = chip_session_connect(chip_id=evo_chip.pk)
    assert (session.state, session.qr_code, session.qr_image, session.pairing_code) == ("qr", QR, PNG, "")
    assert session.qr_expires_at - session.qr_updated_at == timedelta(seconds=60)
    assert ChipSession.objects.get(chip=evo_chip).qr_code == QR


def test_connect_with_a_pairing_phone_stores_the_pairing_code(evo_chip, evo):
    Chip.objects.filter(pk=evo_chip.pk).update(status=ChipStatus.PENDING)
    route = evo.get("/instance/connect/acme-01").respond(
        200, json={"pairingCode": "V37R3T7X", "code": QR, "base64": PNG, "count": 1}
    )
    session = chip_session_connect(chip_id=evo_chip.pk, pairing_phone="(11) 98765-4321")
    assert route.calls.last.request.url.params["number"] == "5511987654321"
    assert (session.state, session.pairing_code) == ("pairing", "V37R3T7X")


def test_connect_of_a_chip_never_opened_opens_its_session_first(evo_chip, evo):
    evo.post("/instance/create").respond(201, json=evo_created())
    connect = evo.get("/instance/connect/acme-01").respond(
        200, json={"pairingCode": "V37R3T7X", "code": QR, "base64": PNG, "count": 1}
    )
    session = chip_session_connect(chip_id=evo_chip.pk, pairing_phone="+5511987654321")
    assert connect.call_count == 1
    assert session.pairing_code == "V37R3T7X"
    assert Chip.objects.get(pk=evo_chip.pk).status == ChipStatus.PENDING


def test_bad_pairing_phone_is_refused_before_any_call(evo_chip):
    Chip.objects.filter(pk=evo_chip.pk).update(status=ChipStatus.PENDING)
    with respx.mock(assert_all_called=False) as router:
        anything = router.route()
        with pytest.raises(ValidationError, match="not a phone number"):
            chip_session_connect(chip_id=evo_chip.pk, pairing_phone="12ab")
    assert anything.call_count == 0
    assert ChipSession.objects.get(chip=evo_chip).state == "created"


def test_gateway_without_pairing_codes_says_to_scan_the_qr():
    chip = ChipFactory(status=ChipStatus.PENDING, gateway__kind="sandbox")
    with pytest.raises(ValidationError, match="scan the QR code"):
        chip_session_connect(chip_id=chip.pk, pairing_phone="+5511987654321")


def test_waha_connect_starts_the_stopped_session_and_stores_the_raw_qr():
    chip = ChipFactory(status=ChipStatus.PENDING, gateway__kind="waha", gateway__base_url=WAHA, instance_name="acme-01")
    with respx.mock(base_url=WAHA, assert_all_called=True) as router:
        router.get("/api/sessions/acme-01").respond(
            200, json={"name": "acme-01", "status": "STOPPED", "config": {}, "me": None, "engine": {"engine": "NOWEB"}}
        )
        start = router.post("/api/sessions/acme-01/start").respond(
            201, json={"name": "acme-01", "status": "STARTING", "config": {}, "me": None}
        )
        router.get("/api/acme-01/auth/qr").respond(200, json={"value": QR})
        session = chip_session_connect(chip_id=chip.pk)
    assert start.call_count == 1
    assert (session.state, session.qr_code) == ("qr", QR)


# --- refresh --------------------------------------------------------------------------------------------


def test_refresh_catches_a_connection_the_webhook_missed(evo_chip, evo):
    Chip.objects.filter(pk=evo_chip.pk).update(status=ChipStatus.PENDING)
    evo.get("/instance/connectionState/acme-01").respond(
        200, json={"instance": {"instanceName": "acme-01", "state": "open"}}
    )
    evo.get("/instance/fetchInstances").respond(
        200, json=evo_record(connectionStatus="open", ownerJid="5511987654321@s.whatsapp.net")
    )
    session = chip_session_refresh(chip_id=evo_chip.pk)
    assert session.state == "connected" and session.checked_at is not None
    assert ChipSession.objects.get(chip=evo_chip).checked_at == session.checked_at
    chip = Chip.objects.get(pk=evo_chip.pk)
    assert chip.status == ChipStatus.WARMING and chip.warmup_started_at is not None
    row = ChipTransition.objects.get(chip=chip)
    assert row.triggered_by == "task:health_check"


def test_refresh_catches_a_silent_disconnect(evo_chip, evo):
    Chip.objects.filter(pk=evo_chip.pk).update(status=ChipStatus.ACTIVE)
    evo.get("/instance/connectionState/acme-01").respond(
        200, json={"instance": {"instanceName": "acme-01", "state": "close"}}
    )
    evo.get("/instance/fetchInstances").respond(
        200, json=evo_record(connectionStatus="close", disconnectionReasonCode=428)
    )
    session = chip_session_refresh(chip_id=evo_chip.pk)
    assert (session.state, session.disconnect_reason_code) == ("disconnected", 428)
    assert Chip.objects.get(pk=evo_chip.pk).status == ChipStatus.DEGRADED
    assert ChipAlert.objects.filter(chip=evo_chip, kind="disconnected", resolved_at__isnull=True).count() == 1


def test_refresh_finds_a_ban(evo_chip, evo):
    Chip.objects.filter(pk=evo_chip.pk).update(status=ChipStatus.ACTIVE)
    evo.get("/instance/connectionState/acme-01").respond(
        200, json={"instance": {"instanceName": "acme-01", "state": "close"}}
    )
    evo.get("/instance/fetchInstances").respond(
        200, json=evo_record(connectionStatus="close", disconnectionReasonCode=403)
    )
    chip_session_refresh(chip_id=evo_chip.pk)
    assert Chip.objects.get(pk=evo_chip.pk).status == ChipStatus.BANNED
    assert ChipAlert.objects.get(chip=evo_chip, kind="banned").severity == "critical"


@pytest.mark.parametrize(
    ("answer", "permanent"),
    [
        (httpx.Response(503, json={"status": 503, "error": "Service Unavailable"}), False),
        (
            httpx.Response(
                404,
                json={
                    "status": 404,
                    "error": "Not Found",
                    "response": {"message": ['The "acme-01" instance does not exist']},
                },
            ),
            True,
        ),
    ],
)
def test_refresh_errors_reach_the_caller_and_change_nothing(evo_chip, evo, answer, permanent):
    Chip.objects.filter(pk=evo_chip.pk).update(status=ChipStatus.ACTIVE)
    evo.get("/instance/connectionState/acme-01").mock(return_value=answer)
    with pytest.raises(ProviderError) as failure:
        chip_session_refresh(chip_id=evo_chip.pk)
    assert failure.value.permanent is permanent
    session = ChipSession.objects.get(chip=evo_chip)
    assert (session.state, session.checked_at) == ("created", None)
    assert Chip.objects.get(pk=evo_chip.pk).status == ChipStatus.ACTIVE


# --- logout ---------------------------------------------------------------------------------------------


def test_logout_unlinks_the_number_and_the_chip_counts_as_disconnected(evo_chip, evo):
    Chip.objects.filter(pk=evo_chip.pk).update(status=ChipStatus.READY)
    logout = evo.delete("/instance/logout/acme-01").respond(
        200, json={"status": "SUCCESS", "error": False, "response": {"message": "Instance logged out"}}
    )
    session = chip_session_logout(chip_id=evo_chip.pk, triggered_by="user:ana")
    assert logout.call_count == 1
    assert session.state == "logged_out" and "user:ana" in session.detail
    assert Chip.objects.get(pk=evo_chip.pk).status == ChipStatus.DEGRADED


def test_qr_for_a_chip_never_opened_comes_right_after_its_session_is_created(evo_chip, evo):
    evo.post("/instance/create").respond(201, json=evo_created())
    evo.get("/instance/connect/acme-01").respond(200, json={"pairingCode": None, "code": QR, "base64": PNG, "count": 1})
    session = chip_session_connect(chip_id=evo_chip.pk)
    assert (session.state, session.qr_code) == ("qr", QR)
    assert transitions(evo_chip) == [("provisioned", "pending")]
