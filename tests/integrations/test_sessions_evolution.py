"""Evolution sessions against its real request and answer shapes: create, QR and pairing code, state,
logout and delete, and the connection.update close codes that mean a WhatsApp ban."""

import copy
import json

import httpx
import pytest
import respx

from integrations.providers.base import ChipAddress, ConnectionUpdate, GatewayConfig, ProviderError, SessionInfo
from integrations.providers.evolution import EvolutionProvider
from tests.payloads import load_fixture

BASE = "http://evo.test"
SECRET = "evo-webhook-secret"
CHIP = ChipAddress(instance_name="acme-01", instance_token="instance-token-1")
WEBHOOK_URL = "https://recado.example/webhooks/evolution/"
EVENTS = [
    "MESSAGES_UPSERT",
    "SEND_MESSAGE",
    "MESSAGES_UPDATE",
    "MESSAGES_EDITED",
    "SEND_MESSAGE_UPDATE",
    "MESSAGES_DELETE",
    "CONNECTION_UPDATE",
    "QRCODE_UPDATED",
]


def fixture(name):
    return load_fixture(f"evolution/{name}.json")


@pytest.fixture
def provider():
    instance = EvolutionProvider(
        GatewayConfig(kind="evolution", base_url=BASE, api_key="global-key", webhook_secret=SECRET)
    )
    yield instance
    instance.close()


@pytest.fixture
def router():
    with respx.mock(base_url=BASE, assert_all_called=True) as mock:
        yield mock


def body_of(route):
    return json.loads(route.calls.last.request.content)


# --- create -----------------------------------------------------------------------------------------


def test_create_sends_our_webhook_token_events_and_the_global_key(provider, router):
    route = router.post("/instance/create").respond(201, json=fixture("response.session__create_v2_3_6"))
    info = provider.session_create(CHIP, webhook_url=WEBHOOK_URL)
    request = route.calls.last.request
    assert request.headers["apikey"] == "global-key"  # create needs the global key, not the instance token
    assert body_of(route) == {
        "instanceName": "acme-01",
        "integration": "WHATSAPP-BAILEYS",
        "qrcode": False,
        "groupsIgnore": True,
        "token": "instance-token-1",
        "webhook": {
            "enabled": True,
            "url": WEBHOOK_URL,
            "byEvents": False,
            "base64": False,
            "headers": {"X-Webhook-Token": SECRET},
            "events": EVENTS,
        },
    }
    assert info == SessionInfo(state="created")


def test_create_without_an_instance_token_lets_evolution_mint_one_and_keeps_our_token_header(provider, router):
    route = router.post("/instance/create").respond(201, json=fixture("response.session__create_v2_3_6"))
    provider.session_create(
        ChipAddress(instance_name="acme-01"),
        webhook_url=WEBHOOK_URL,
        webhook_headers={"X-Tenant": "42", "X-Webhook-Token": "caller-cannot-override"},
    )
    body = body_of(route)
    assert "token" not in body
    assert body["webhook"]["headers"] == {"X-Tenant": "42", "X-Webhook-Token": SECRET}


def test_create_without_a_webhook_secret_fails_before_calling_the_gateway():
    provider = EvolutionProvider(GatewayConfig(kind="evolution", base_url=BASE, api_key="global-key"))
    with respx.mock(base_url=BASE) as mock:
        with pytest.raises(ProviderError) as caught:
            provider.session_create(CHIP, webhook_url=WEBHOOK_URL)
        assert not mock.calls
    assert caught.value.permanent is True


def test_create_of_an_existing_name_repoints_its_webhook_and_reads_the_state(provider, router):
    router.post("/instance/create").respond(403, json=fixture("response.session__create_name_in_use_v2_3_6"))
    webhook_set = router.post("/webhook/set/acme-01").respond(201, json=fixture("response.session__webhook_set_v2_3_7"))
    router.get("/instance/connectionState/acme-01").respond(
        200, json=fixture("response.session__connection_state_connecting_v2_3_7")
    )
    info = provider.session_create(CHIP, webhook_url=WEBHOOK_URL)
    assert webhook_set.calls.last.request.headers["apikey"] == "instance-token-1"
    assert body_of(webhook_set) == {
        "webhook": {
            "enabled": True,
            "url": WEBHOOK_URL,
            "byEvents": False,
            "base64": False,
            "headers": {"X-Webhook-Token": SECRET},
            "events": EVENTS,
        }
    }
    assert info == SessionInfo(state="connecting")


def test_other_403s_on_create_stay_plain_permanent_errors(provider, router):
    router.post("/instance/create").respond(
        403, json={"status": 403, "error": "Forbidden", "response": {"message": ["Missing global api key"]}}
    )
    with pytest.raises(ProviderError) as caught:
        provider.session_create(CHIP, webhook_url=WEBHOOK_URL)
    assert (caught.value.permanent, caught.value.status_code) == (True, 403)
    assert "Missing global api key" in str(caught.value)


# --- connect ------------------------------------------------------------------------------------------


def test_connect_answers_the_qr_string_and_its_png(provider, router):
    route = router.get("/instance/connect/acme-01").respond(200, json=fixture("response.session__connect_qr_v2_3_7"))
    info = provider.session_connect(CHIP)
    request = route.calls.last.request
    assert request.url.query == b""
    assert request.headers["apikey"] == "instance-token-1"
    answer = fixture("response.session__connect_qr_v2_3_7")
    assert info == SessionInfo(state="qr", qr_code=answer["code"], qr_image=answer["base64"])
    assert info.qr_code.startswith("2@") and info.qr_image.startswith("data:image/png;base64,")


def test_connect_with_a_phone_asks_for_a_pairing_code(provider, router):
    route = router.get("/instance/connect/acme-01").respond(
        200, json=fixture("response.session__connect_pairing_v2_3_6")
    )
    info = provider.session_connect(CHIP, pairing_phone="+55 11 90000-0010")
    assert dict(route.calls.last.request.url.params) == {"number": "5511900000010"}
    assert info.state == "pairing"
    assert info.pairing_code == "V37R3T7X"


def test_connect_of_an_open_instance_says_connected(provider, router):
    router.get("/instance/connect/acme-01").respond(200, json=fixture("response.session__connect_open_v2_3_6"))
    assert provider.session_connect(CHIP) == SessionInfo(state="connected")


def test_connect_failure_reported_with_http_200_is_a_transient_error(provider, router):
    router.get("/instance/connect/acme-01").respond(200, json=fixture("response.session__connect_error_v2_3_6"))
    with pytest.raises(ProviderError) as caught:
        provider.session_connect(CHIP)
    assert caught.value.permanent is False
    assert "Connection Failure" in str(caught.value)


@pytest.mark.parametrize(("status", "permanent"), [(503, False), (500, False), (429, False), (401, True)])
def test_connect_http_errors_are_classified(provider, router, status, permanent):
    router.get("/instance/connect/acme-01").respond(status, json={"error": "x"})
    with pytest.raises(ProviderError) as caught:
        provider.session_connect(CHIP)
    assert (caught.value.permanent, caught.value.status_code) == (permanent, status)


def test_connect_of_an_unknown_instance_is_permanent(provider, router):
    router.get("/instance/connect/acme-01").respond(404, json=fixture("response.session__delete_unknown_v2_3_6"))
    with pytest.raises(ProviderError) as caught:
        provider.session_connect(CHIP)
    assert (caught.value.permanent, caught.value.status_code) == (True, 404)


def test_connect_timeout_is_transient(provider, router):
    router.get("/instance/connect/acme-01").mock(side_effect=httpx.ConnectTimeout("slow"))
    with pytest.raises(ProviderError) as caught:
        provider.session_connect(CHIP)
    assert caught.value.permanent is False


# --- state --------------------------------------------------------------------------------------------


def test_open_state_reads_the_linked_number_from_the_instance_record(provider, router):
    router.get("/instance/connectionState/acme-01").respond(
        200, json=fixture("response.session__connection_state_open_v2_3_7")
    )
    record = router.get("/instance/fetchInstances").respond(
        200, json=fixture("response.session__fetch_instances_open_v2_3_7")
    )
    info = provider.session_state(CHIP)
    assert dict(record.calls.last.request.url.params) == {"instanceName": "acme-01"}
    assert info == SessionInfo(state="connected", phone="+5511900000010")


def test_closed_instance_with_a_stored_403_is_a_ban(provider, router):
    router.get("/instance/connectionState/acme-01").respond(
        200, json=fixture("response.session__connection_state_close_v2_3_7")
    )
    router.get("/instance/fetchInstances").respond(
        200, json=fixture("response.session__fetch_instances_close_403_v2_3_7")
    )
    info = provider.session_state(CHIP)
    assert (info.state, info.reason_code, info.banned) == ("logged_out", 403, True)
    assert "403" in info.detail


def test_closed_instance_with_a_stored_401_is_a_ban(provider, router):
    record = fixture("response.session__fetch_instances_close_403_v2_3_7")
    record[0]["disconnectionReasonCode"] = 401
    router.get("/instance/connectionState/acme-01").respond(
        200, json=fixture("response.session__connection_state_close_v2_3_7")
    )
    router.get("/instance/fetchInstances").respond(200, json=record)
    info = provider.session_state(CHIP)
    assert (info.state, info.reason_code, info.banned) == ("logged_out", 401, True)


def test_a_code_left_from_an_old_disconnection_is_not_trusted(provider, router):
    # The record says open (re-linked since) while the socket is momentarily closed.
    router.get("/instance/connectionState/acme-01").respond(
        200, json=fixture("response.session__connection_state_close_v2_3_7")
    )
    router.get("/instance/fetchInstances").respond(
        200, json=fixture("response.session__fetch_instances_stale_code_v2_3_7")
    )
    assert provider.session_state(CHIP) == SessionInfo(state="disconnected")


def test_connecting_state_needs_no_second_call(provider, router):
    router.get("/instance/connectionState/acme-01").respond(
        200, json=fixture("response.session__connection_state_connecting_v2_3_7")
    )
    assert provider.session_state(CHIP) == SessionInfo(state="connecting")
    assert len(router.calls) == 1


def test_state_without_a_state_is_disconnected_with_a_reason(provider, router):
    router.get("/instance/connectionState/acme-01").respond(200, json={"instance": {"instanceName": "acme-01"}})
    info = provider.session_state(CHIP)
    assert info.state == "disconnected"
    assert "no known state" in info.detail


# --- logout and delete --------------------------------------------------------------------------------


def test_logout(provider, router):
    route = router.delete("/instance/logout/acme-01").respond(200, json=fixture("response.session__logout_v2_3_7"))
    assert provider.session_logout(CHIP) is None
    assert route.calls.last.request.headers["apikey"] == "instance-token-1"


def test_logout_of_a_closed_instance_is_done_already(provider, router):
    route = router.delete("/instance/logout/acme-01").respond(
        400, json=fixture("response.session__logout_not_connected_v2_3_6")
    )
    provider.session_logout(CHIP)
    assert route.call_count == 1


def test_other_logout_refusals_raise(provider, router):
    router.delete("/instance/logout/acme-01").respond(
        400, json={"status": 400, "error": "Bad Request", "response": {"message": ["something else"]}}
    )
    with pytest.raises(ProviderError) as caught:
        provider.session_logout(CHIP)
    assert caught.value.permanent is True


def test_delete(provider, router):
    route = router.delete("/instance/delete/acme-01").respond(200, json=fixture("response.session__delete_v2_3_7"))
    provider.session_delete(CHIP)
    assert route.calls.last.request.method == "DELETE"


def test_delete_of_an_unknown_instance_is_done_already(provider, router):
    route = router.delete("/instance/delete/acme-01").respond(
        404, json=fixture("response.session__delete_unknown_v2_3_6")
    )
    provider.session_delete(CHIP)
    assert route.call_count == 1


def test_delete_server_error_is_transient(provider, router):
    router.delete("/instance/delete/acme-01").respond(500, json={"error": "boom"})
    with pytest.raises(ProviderError) as caught:
        provider.session_delete(CHIP)
    assert caught.value.permanent is False


def test_instance_names_are_quoted_in_session_paths(provider, router):
    route = router.delete("/instance/logout/Ivo%20Teste").respond(200, json=fixture("response.session__logout_v2_3_7"))
    provider.session_logout(ChipAddress(instance_name="Ivo Teste"))
    assert route.call_count == 1


def test_flags():
    assert (EvolutionProvider.sessions_managed, EvolutionProvider.supports_pairing_code) == (True, True)


# --- ban signals in connection.update -----------------------------------------------------------------


def parse(body):
    return EvolutionProvider(GatewayConfig(kind="evolution", base_url=BASE, webhook_secret=SECRET)).parse(body)


def test_close_403_is_a_ban():
    [event] = parse(fixture("connection.update__close_banned_403_v2"))
    assert isinstance(event, ConnectionUpdate)
    assert (event.state, event.reason_code, event.banned) == ("logged_out", 403, True)
    assert "banned" in event.detail


def test_close_402_is_a_temporary_ban():
    [event] = parse(fixture("connection.update__close_temp_banned_402_v2"))
    assert (event.state, event.reason_code, event.banned) == ("logged_out", 402, True)
    assert "temporarily" in event.detail


def test_close_401_is_taken_as_a_ban():
    # WhatsApp logs a banned number out with 401; an unlink on the phone looks the same (see baileys.py).
    [event] = parse(fixture("connection.update__close_logged_out_v2"))
    assert (event.state, event.reason_code, event.banned) == ("logged_out", 401, True)


def with_close_code(code, state="close"):
    body = copy.deepcopy(fixture("connection.update__close_banned_403_v2"))
    body["data"]["statusReason"] = code
    body["data"]["state"] = state
    return body


def test_close_406_is_a_ban():
    [event] = parse(with_close_code(406))
    assert (event.state, event.banned) == ("logged_out", True)


@pytest.mark.parametrize("code", [408, 428, 440, 500, 503, 515, 411, 405])
def test_transient_close_codes_are_not_bans(code):
    assert parse(with_close_code(code)) == [ConnectionUpdate(state="disconnected", reason_code=code)]


def test_a_ban_code_on_a_non_close_state_is_not_a_ban():
    # `refused` (QR limit) carries connectionClosed; a ban code there would not be a socket close either.
    [event] = parse(with_close_code(403, state="refused"))
    assert event.banned is False
