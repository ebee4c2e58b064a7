"""Z-API sessions: our webhook URL on every webhook kind, the QR image and pairing code, the status,
disconnect; the instance token kept out of errors; and why a DisconnectedCallback is not a ban."""

import json

import pytest
import respx

from integrations.providers.base import (
    ChipAddress,
    ConnectionUpdate,
    GatewayConfig,
    NotSupported,
    ProviderError,
    SessionInfo,
)
from integrations.providers.zapi import ZapiProvider
from tests.payloads import load_fixture

BASE = "https://api.z-api.io"
INSTANCE = "3C67AB641C8AA0412F6A2242B4E23AC7"
TOKEN = "F0E1D2C3B4A5968778695A4B"
CLIENT_TOKEN = "Fa1b2c3d4e5f60718293a4b5c6d7e8f9S"
PREFIX = f"{BASE}/instances/{INSTANCE}/token/{TOKEN}"
CHIP = ChipAddress(instance_name=INSTANCE, instance_token=TOKEN)
WEBHOOK_URL = "https://recado.example/webhooks/zapi/zapi-path-secret/"


def fixture(name):
    return load_fixture(f"zapi/{name}.json")


@pytest.fixture
def provider():
    zapi = ZapiProvider(GatewayConfig(kind="zapi", base_url=BASE + "/", api_key=CLIENT_TOKEN, webhook_secret="s"))
    yield zapi
    zapi.close()


@pytest.fixture
def router():
    with respx.mock(assert_all_called=True) as mock:
        yield mock


def test_create_points_every_webhook_at_us_and_reads_the_status(provider, router):
    hooks = router.put(f"{PREFIX}/update-every-webhooks").respond(
        200, json=fixture("response.session__update_every_webhooks_docs")
    )
    router.get(f"{PREFIX}/status").respond(200, json=fixture("response.session__status_not_connected"))
    info = provider.session_create(CHIP, webhook_url=WEBHOOK_URL)
    request = hooks.calls.last.request
    assert request.headers["Client-Token"] == CLIENT_TOKEN
    assert json.loads(request.content) == {"value": WEBHOOK_URL, "notifySentByMe": True}
    assert info == SessionInfo(state="disconnected", detail="You are not connected.")


def test_create_refuses_a_plain_http_url_before_calling(provider):
    with respx.mock() as mock:
        with pytest.raises(ProviderError) as caught:
            provider.session_create(CHIP, webhook_url="http://recado.example/webhooks/zapi/x/")
        assert not mock.calls
    assert caught.value.permanent is True
    assert "HTTPS" in str(caught.value)


def test_create_cannot_add_headers(provider):
    with respx.mock() as mock:
        with pytest.raises(NotSupported):
            provider.session_create(CHIP, webhook_url=WEBHOOK_URL, webhook_headers={"X-Webhook-Token": "t"})
        assert not mock.calls


def test_create_fails_when_z_api_does_not_confirm(provider, router):
    router.put(f"{PREFIX}/update-every-webhooks").respond(200, json={"value": False})
    with pytest.raises(ProviderError) as caught:
        provider.session_create(CHIP, webhook_url=WEBHOOK_URL)
    assert caught.value.permanent is True


def test_create_error_never_shows_the_instance_token(provider, router):
    router.put(f"{PREFIX}/update-every-webhooks").respond(400, json={"error": f"bad instance {TOKEN}"})
    with pytest.raises(ProviderError) as caught:
        provider.session_create(CHIP, webhook_url=WEBHOOK_URL)
    assert TOKEN not in str(caught.value)
    assert caught.value.permanent is True


def test_connect_answers_the_qr_image(provider, router):
    route = router.get(f"{PREFIX}/qr-code/image").respond(200, json=fixture("response.session__qr_code_image"))
    info = provider.session_connect(CHIP)
    assert route.calls.last.request.headers["Client-Token"] == CLIENT_TOKEN
    assert info == SessionInfo(state="qr", qr_image=fixture("response.session__qr_code_image")["value"])
    assert info.qr_code == ""  # Z-API gives the image, not the QR's string


def test_connect_with_a_phone_answers_a_pairing_code(provider, router):
    router.get(f"{PREFIX}/phone-code/5511900000010").respond(200, json=fixture("response.session__phone_code"))
    assert provider.session_connect(CHIP, pairing_phone="+55 (11) 90000-0010") == SessionInfo(
        state="pairing", pairing_code="X7KQ9M2P"
    )


def test_connect_of_a_connected_instance_says_connected(provider, router):
    router.get(f"{PREFIX}/qr-code/image").respond(200, json=fixture("response.session__qr_code_already_connected"))
    assert provider.session_connect(CHIP) == SessionInfo(state="connected")


def test_connect_answer_without_a_code_is_an_error(provider, router):
    router.get(f"{PREFIX}/qr-code/image").respond(200, json={})
    with pytest.raises(ProviderError) as caught:
        provider.session_connect(CHIP)
    assert caught.value.permanent is False


def test_connect_without_an_instance_token_fails_before_calling(provider):
    with respx.mock() as mock:
        with pytest.raises(ProviderError) as caught:
            provider.session_connect(ChipAddress(instance_name=INSTANCE))
        assert not mock.calls
    assert caught.value.permanent is True


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("response.session__status_connected", SessionInfo(state="connected")),
        ("response.session__status_not_connected", SessionInfo(state="disconnected", detail="You are not connected.")),
        (
            "response.session__status_restore",
            SessionInfo(state="disconnected", detail="You need to restore the session."),
        ),
    ],
)
def test_status_maps_connected_and_its_error(provider, router, answer, expected):
    router.get(f"{PREFIX}/status").respond(200, json=fixture(answer))
    assert provider.session_state(CHIP) == expected


def test_connected_with_the_phone_offline_says_so(provider, router):
    router.get(f"{PREFIX}/status").respond(200, json={"connected": True, "error": "", "smartphoneConnected": False})
    assert provider.session_state(CHIP) == SessionInfo(state="connected", detail="smartphone offline")


@pytest.mark.parametrize(("status", "permanent"), [(503, False), (429, False), (401, True)])
def test_status_errors_are_classified(provider, router, status, permanent):
    router.get(f"{PREFIX}/status").respond(status, json={"error": "x"})
    with pytest.raises(ProviderError) as caught:
        provider.session_state(CHIP)
    assert caught.value.permanent is permanent


def test_logout_disconnects(provider, router):
    route = router.get(f"{PREFIX}/disconnect").respond(200, json=fixture("response.session__disconnect"))
    provider.session_logout(CHIP)
    assert route.calls.last.request.headers["Client-Token"] == CLIENT_TOKEN


def test_delete_is_not_supported(provider):
    with respx.mock() as mock:
        with pytest.raises(NotSupported):
            provider.session_delete(CHIP)
        assert not mock.calls


def test_flags():
    assert (ZapiProvider.sessions_managed, ZapiProvider.supports_pairing_code) == (True, True)


def test_disconnected_callback_is_not_a_ban(provider):
    [event] = provider.parse(fixture("DisconnectedCallback__docs"))
    assert event == ConnectionUpdate(state="disconnected", detail="Device has been disconnected")
    assert event.banned is False
