"""WAHA sessions against its documented requests and answers: create with our HMAC-signed webhook, QR
and pairing code (starting a stopped or failed session first), state, logout, delete; and why a
`session.status` never reports a ban."""

import json

import pytest
import respx

from integrations.providers.base import ChipAddress, ConnectionUpdate, GatewayConfig, ProviderError, SessionInfo
from integrations.providers.waha import WahaProvider
from tests.payloads import load_fixture

BASE = "http://waha.test:3000"
SECRET = "waha-webhook-secret"
CHIP = ChipAddress(instance_name="acme-01")
WEBHOOK_URL = "https://recado.example/webhooks/waha/"
EXPECTED_CONFIG = {
    "webhooks": [
        {
            "url": WEBHOOK_URL,
            "events": [
                "message.any",
                "message.reaction",
                "message.ack",
                "message.edited",
                "message.revoked",
                "session.status",
            ],
            "hmac": {"key": SECRET},
            "retries": {"policy": "exponential", "delaySeconds": 2, "attempts": 10},
        }
    ],
    "ignore": {"status": True, "groups": True, "channels": True, "broadcast": True},
}


def fixture(name):
    return load_fixture(f"waha/{name}.json")


@pytest.fixture
def provider():
    instance = WahaProvider(GatewayConfig(kind="waha", base_url=BASE, api_key="waha-api-key", webhook_secret=SECRET))
    yield instance
    instance.close()


@pytest.fixture
def router():
    with respx.mock(base_url=BASE, assert_all_called=True) as mock:
        yield mock


def body_of(route):
    return json.loads(route.calls.last.request.content)


# --- create -----------------------------------------------------------------------------------------


def test_create_configures_the_hmac_signed_webhook_without_starting(provider, router):
    route = router.post("/api/sessions").respond(201, json=fixture("response.session__create_stopped"))
    info = provider.session_create(CHIP, webhook_url=WEBHOOK_URL)
    assert route.calls.last.request.headers["X-Api-Key"] == "waha-api-key"
    assert body_of(route) == {"name": "acme-01", "start": False, "config": EXPECTED_CONFIG}
    assert info == SessionInfo(state="created")


def test_create_passes_extra_headers_as_custom_headers(provider, router):
    route = router.post("/api/sessions").respond(201, json=fixture("response.session__create_stopped"))
    provider.session_create(CHIP, webhook_url=WEBHOOK_URL, webhook_headers={"X-Tenant": "42"})
    [webhook] = body_of(route)["config"]["webhooks"]
    assert webhook["customHeaders"] == [{"name": "X-Tenant", "value": "42"}]
    assert webhook["hmac"] == {"key": SECRET}


def test_create_of_an_existing_session_updates_its_config(provider, router):
    router.post("/api/sessions").respond(422, json=fixture("response.session__exists_422"))
    update = router.put("/api/sessions/acme-01").respond(200, json=fixture("response.session__update_starting"))
    info = provider.session_create(CHIP, webhook_url=WEBHOOK_URL)
    assert body_of(update) == {"name": "acme-01", "config": EXPECTED_CONFIG}
    assert info == SessionInfo(state="connecting", detail="STARTING")


def test_other_422s_stay_permanent_errors(provider, router):
    router.post("/api/sessions").respond(
        422, json={"statusCode": 422, "message": ["config.webhooks.0.url must be a URL address"], "error": "x"}
    )
    with pytest.raises(ProviderError) as caught:
        provider.session_create(CHIP, webhook_url="not-a-url")
    assert (caught.value.permanent, caught.value.status_code) == (True, 422)


def test_create_without_a_webhook_secret_fails_before_calling_the_gateway():
    provider = WahaProvider(GatewayConfig(kind="waha", base_url=BASE, api_key="waha-api-key"))
    with respx.mock(base_url=BASE) as mock:
        with pytest.raises(ProviderError) as caught:
            provider.session_create(CHIP, webhook_url=WEBHOOK_URL)
        assert not mock.calls
    assert caught.value.permanent is True


# --- connect ------------------------------------------------------------------------------------------


def test_connect_starts_a_stopped_session_then_reads_the_raw_qr(provider, router):
    router.get("/api/sessions/acme-01").respond(200, json=fixture("response.session__get_stopped"))
    start = router.post("/api/sessions/acme-01/start").respond(200, json=fixture("response.session__update_starting"))
    qr = router.get("/api/acme-01/auth/qr").respond(200, json=fixture("response.session__qr_raw_docs"))
    info = provider.session_connect(CHIP)
    assert start.call_count == 1
    request = qr.calls.last.request
    assert dict(request.url.params) == {"format": "raw"}
    assert request.headers["Accept"] == "application/json"
    assert request.headers["X-Api-Key"] == "waha-api-key"
    assert info == SessionInfo(state="qr", qr_code="value-that-you-need-to-use-to-generate-qr-code")


def test_connect_restarts_a_failed_session(provider, router):
    router.get("/api/sessions/acme-01").respond(200, json=fixture("response.session__get_failed"))
    restart = router.post("/api/sessions/acme-01/restart").respond(
        200, json=fixture("response.session__update_starting")
    )
    router.get("/api/acme-01/auth/qr").respond(200, json=fixture("response.session__qr_raw_docs"))
    assert provider.session_connect(CHIP).state == "qr"
    assert restart.call_count == 1


def test_connect_in_scan_qr_goes_straight_to_the_qr(provider, router):
    router.get("/api/sessions/acme-01").respond(200, json=fixture("response.session__get_scan_qr"))
    router.get("/api/acme-01/auth/qr").respond(200, json=fixture("response.session__qr_raw_docs"))
    assert provider.session_connect(CHIP).state == "qr"
    assert len(router.calls) == 2


def test_connect_with_a_phone_requests_a_pairing_code(provider, router):
    router.get("/api/sessions/acme-01").respond(200, json=fixture("response.session__get_scan_qr"))
    code = router.post("/api/acme-01/auth/request-code").respond(
        200, json=fixture("response.session__request_code_docs")
    )
    info = provider.session_connect(CHIP, pairing_phone="+1 213 213-2130")
    assert body_of(code) == {"phoneNumber": "12132132130"}
    assert info == SessionInfo(state="pairing", pairing_code="ABCD-ABCD")


def test_connect_of_a_working_session_says_connected(provider, router):
    router.get("/api/sessions/acme-01").respond(200, json=fixture("response.session__get_working"))
    info = provider.session_connect(CHIP)
    assert (info.state, info.phone) == ("connected", "+5511900000010")
    assert len(router.calls) == 1


def test_qr_answer_without_a_value_is_an_error(provider, router):
    router.get("/api/sessions/acme-01").respond(200, json=fixture("response.session__get_scan_qr"))
    router.get("/api/acme-01/auth/qr").respond(200, json={})
    with pytest.raises(ProviderError):
        provider.session_connect(CHIP)


def test_gateway_errors_on_the_qr_are_transient(provider, router):
    router.get("/api/sessions/acme-01").respond(200, json=fixture("response.session__get_scan_qr"))
    qr = router.get("/api/acme-01/auth/qr")
    qr.respond(503, json={"message": "busy"})
    with pytest.raises(ProviderError) as caught:
        provider.session_connect(CHIP)
    assert caught.value.permanent is False


# --- state, logout, delete ----------------------------------------------------------------------------


def test_state_of_the_docs_working_session(provider, router):
    route = router.get("/api/sessions/acme-01").respond(200, json=fixture("response.session__get_working_docs"))
    info = provider.session_state(CHIP)
    assert route.calls.last.request.headers["X-Api-Key"] == "waha-api-key"
    assert (info.state, info.detail) == ("connected", "WORKING")


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("response.session__get_working", SessionInfo(state="connected", phone="+5511900000010", detail="WORKING")),
        ("response.session__get_stopped", SessionInfo(state="disconnected", detail="STOPPED")),
        ("response.session__get_failed", SessionInfo(state="disconnected", detail="FAILED")),
        ("response.session__get_scan_qr", SessionInfo(state="qr", detail="SCAN_QR_CODE")),
    ],
)
def test_state_maps_waha_statuses(provider, router, answer, expected):
    router.get("/api/sessions/acme-01").respond(200, json=fixture(answer))
    assert provider.session_state(CHIP) == expected


def test_unknown_session_is_permanent(provider, router):
    router.get("/api/sessions/acme-01").respond(404, json={"statusCode": 404, "message": "Session not found"})
    with pytest.raises(ProviderError) as caught:
        provider.session_state(CHIP)
    assert (caught.value.permanent, caught.value.status_code) == (True, 404)


def test_logout_and_delete(provider, router):
    logout = router.post("/api/sessions/acme-01/logout").respond(201, json=fixture("response.session__update_starting"))
    delete = router.delete("/api/sessions/acme-01").respond(200)
    provider.session_logout(CHIP)
    provider.session_delete(CHIP)
    assert logout.calls.last.request.headers["X-Api-Key"] == "waha-api-key"
    assert delete.call_count == 1


def test_flags():
    assert (WahaProvider.sessions_managed, WahaProvider.supports_pairing_code) == (True, True)


# --- no ban signal in session.status --------------------------------------------------------------------


def test_failed_after_working_is_a_disconnection_not_a_ban(provider):
    events = provider.parse(fixture("session.status__failed_after_working_noweb"))
    assert events == [ConnectionUpdate(state="disconnected", detail="FAILED")]
    assert events[0].banned is False
