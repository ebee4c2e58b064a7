"""Cloud API numbers: no QR sessions, but the number's state (a BANNED status is a ban, FLAGGED and
RESTRICTED are not), its deregistration, and the request_code → verify_code → register calls."""

import json

import pytest
import respx

from integrations.providers.base import ChipAddress, GatewayConfig, NotSupported, ProviderError, SessionInfo
from integrations.providers.cloudapi import CloudApiProvider
from tests.payloads import load_fixture

BASE = "https://graph.facebook.com/v23.0"
TOKEN = "EAAJB-test-access-token"
NUMBER_ID = "106540352242922"
CHIP = ChipAddress(instance_name=NUMBER_ID, phone="+5511900000010")
NUMBER_URL = f"{BASE}/{NUMBER_ID}"
FIELDS = "display_phone_number,verified_name,status,quality_rating,name_status,code_verification_status,health_status"


def fixture(name):
    return load_fixture(f"cloudapi/{name}.json")


@pytest.fixture
def provider():
    p = CloudApiProvider(GatewayConfig(kind="cloudapi", base_url=BASE, api_key=TOKEN, webhook_secret="s"))
    yield p
    p.close()


@pytest.fixture
def router():
    with respx.mock(assert_all_called=True) as mock:
        yield mock


# --- no QR sessions -----------------------------------------------------------------------------------


def test_flags():
    assert (CloudApiProvider.sessions_managed, CloudApiProvider.supports_pairing_code) == (False, False)


@pytest.mark.parametrize(
    "call",
    [
        lambda p: p.session_create(CHIP, webhook_url="https://recado.example/webhooks/cloudapi/"),
        lambda p: p.session_connect(CHIP),
        lambda p: p.session_connect(CHIP, pairing_phone="+5511900000010"),
        lambda p: p.session_delete(CHIP),
    ],
    ids=["create", "connect", "pairing", "delete"],
)
def test_session_calls_without_a_cloud_equivalent_are_not_supported(provider, call):
    with respx.mock() as mock:
        with pytest.raises(NotSupported) as caught:
            call(provider)
        assert not mock.calls
    assert caught.value.permanent is True


# --- state ------------------------------------------------------------------------------------------------


def test_state_reads_the_phone_number_node(provider, router):
    route = router.get(NUMBER_URL).respond(200, json=fixture("response.session__phone_number_connected_docs"))
    info = provider.session_state(CHIP)
    request = route.calls.last.request
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert dict(request.url.params) == {"fields": FIELDS}
    assert info == SessionInfo(
        state="connected", phone="+16315555555", detail="status CONNECTED; quality GREEN; name APPROVED"
    )


def test_banned_status_is_a_ban_with_metas_reason(provider, router):
    router.get(NUMBER_URL).respond(200, json=fixture("response.session__phone_number_banned"))
    info = provider.session_state(CHIP)
    assert (info.state, info.banned, info.phone) == ("disconnected", True, "+5511900000010")
    assert "status BANNED" in info.detail
    assert "can send: BLOCKED" in info.detail
    assert "PHONE_NUMBER blocked: The phone number is banned." in info.detail


def test_flagged_is_a_quality_warning_not_a_ban(provider, router):
    router.get(NUMBER_URL).respond(200, json=fixture("response.session__phone_number_flagged"))
    info = provider.session_state(CHIP)
    assert (info.state, info.banned) == ("connected", False)
    assert "status FLAGGED; quality RED" in info.detail
    assert "can send: LIMITED" in info.detail


@pytest.mark.parametrize(
    ("status", "state"),
    [("RESTRICTED", "connected"), ("PENDING", "created"), ("DISCONNECTED", "disconnected"), ("DELETED", "logged_out")],
)
def test_other_statuses(provider, router, status, state):
    body = fixture("response.session__phone_number_pending") | {"status": status}
    router.get(NUMBER_URL).respond(200, json=body)
    info = provider.session_state(CHIP)
    assert (info.state, info.banned) == (state, False)


def test_an_unknown_status_reads_as_disconnected_and_says_which(provider, router):
    router.get(NUMBER_URL).respond(200, json={"id": NUMBER_ID, "status": "SOMETHING_NEW"})
    info = provider.session_state(CHIP)
    assert (info.state, info.banned) == ("disconnected", False)
    assert "SOMETHING_NEW" in info.detail


def test_state_errors_are_classified(provider, router):
    router.get(NUMBER_URL).respond(
        400, json={"error": {"message": "(#100) Invalid parameter", "type": "OAuthException", "code": 100}}
    )
    with pytest.raises(ProviderError) as caught:
        provider.session_state(CHIP)
    assert (caught.value.permanent, caught.value.status_code) == (True, 400)


# --- deregister (logout) -----------------------------------------------------------------------------------


def test_logout_deregisters_the_number(provider, router):
    route = router.post(f"{NUMBER_URL}/deregister").respond(200, json=fixture("response.session__success_docs"))
    provider.session_logout(CHIP)
    assert route.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_an_unconfirmed_deregistration_raises(provider, router):
    router.post(f"{NUMBER_URL}/deregister").respond(200, json={"success": False})
    with pytest.raises(ProviderError):
        provider.session_logout(CHIP)


# --- registration ---------------------------------------------------------------------------------------------


def test_request_code_sends_method_and_language_as_query_parameters(provider, router):
    route = router.post(f"{NUMBER_URL}/request_code").respond(200, json=fixture("response.session__success_docs"))
    provider.request_verification_code(CHIP)
    request = route.calls.last.request
    assert dict(request.url.params) == {"code_method": "SMS", "language": "pt_BR"}
    assert request.content == b""


def test_request_code_by_voice_in_another_language(provider, router):
    route = router.post(f"{NUMBER_URL}/request_code").respond(200, json=fixture("response.session__success_docs"))
    provider.request_verification_code(CHIP, method="voice", language="en_US")
    assert dict(route.calls.last.request.url.params) == {"code_method": "VOICE", "language": "en_US"}


@pytest.mark.parametrize(("method", "language"), [("WHATSAPP", "pt_BR"), ("SMS", "")])
def test_request_code_refuses_bad_input_before_calling(provider, method, language):
    with respx.mock() as mock:
        with pytest.raises(ValueError):
            provider.request_verification_code(CHIP, method=method, language=language)
        assert not mock.calls


def test_verify_code(provider, router):
    route = router.post(f"{NUMBER_URL}/verify_code").respond(200, json=fixture("response.session__success_docs"))
    provider.submit_verification_code(CHIP, "123-830")
    assert dict(route.calls.last.request.url.params) == {"code": "123830"}


def test_verify_code_refuses_non_digits(provider):
    with respx.mock() as mock:
        with pytest.raises(ValueError):
            provider.submit_verification_code(CHIP, "12a830")
        assert not mock.calls


def test_verify_code_error_is_permanent(provider, router):
    router.post(f"{NUMBER_URL}/verify_code").respond(
        400, json={"error": {"message": "(#136025) Verify code error", "type": "OAuthException", "code": 136025}}
    )
    with pytest.raises(ProviderError) as caught:
        provider.submit_verification_code(CHIP, "123830")
    assert caught.value.permanent is True


def test_register_sends_the_pin(provider, router):
    route = router.post(f"{NUMBER_URL}/register").respond(200, json=fixture("response.session__success_docs"))
    provider.register_number(CHIP, "123456")
    assert json.loads(route.calls.last.request.content) == {"messaging_product": "whatsapp", "pin": "123456"}


@pytest.mark.parametrize("pin", ["12345", "1234567", "12345a", "١٢٣٤٥٦"])
def test_register_refuses_a_pin_that_is_not_six_digits(provider, pin):
    with respx.mock() as mock:
        with pytest.raises(ValueError):
            provider.register_number(CHIP, pin)
        assert not mock.calls


def test_register_pin_mismatch_is_permanent(provider, router):
    router.post(f"{NUMBER_URL}/register").respond(400, json=fixture("response.session__register_pin_mismatch"))
    with pytest.raises(ProviderError) as caught:
        provider.register_number(CHIP, "123456")
    assert caught.value.permanent is True
    assert "133005" in str(caught.value)


def test_register_wait_a_few_minutes_is_transient(provider, router):
    router.post(f"{NUMBER_URL}/register").respond(400, json=fixture("response.session__register_wait"))
    with pytest.raises(ProviderError) as caught:
        provider.register_number(CHIP, "123456")
    assert caught.value.permanent is False
