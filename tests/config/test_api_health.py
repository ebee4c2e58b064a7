"""GET /api/health: each integration, configured and answering, probed at the HTTP boundary."""

from __future__ import annotations

import httpx
import pytest
import respx

from chips.lifecycle import ChipStatus
from config.ops import HEALTH_CACHE_KEY
from tests.chips.salvy_fakes import SALVY_ROOT, route_area_codes
from tests.factories import ChipFactory, GatewayFactory

pytestmark = pytest.mark.django_db

URL = "/api/health"
LLM = "http://llm.test/v1"
LLM_KEY = "sk-health-probe-secret-0123"
EVO = "http://evolution.test:8080"
RELAY = "http://whaticket.test"


@pytest.fixture(autouse=True)
def fresh_report(settings):
    """No report left from another test, and no integration configured unless a test says so."""
    from django.core.cache import cache

    cache.delete(HEALTH_CACHE_KEY)
    settings.OPENAI_API_KEY = settings.AGENT_MODEL = settings.SALVY_API_TOKEN = settings.SLACK_WEBHOOK_URL = ""
    yield
    cache.delete(HEALTH_CACHE_KEY)


@pytest.fixture
def http():
    """Every outbound call goes through this router; one it does not know fails the test."""
    with respx.mock(assert_all_called=True) as router:
        yield router


@pytest.fixture
def model(settings):
    settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL, settings.AGENT_MODEL = LLM_KEY, LLM, "gpt-4o-mini"


def live_evolution_chip(status=ChipStatus.ACTIVE):
    return ChipFactory(
        status=status,
        instance_name="acme-01",
        gateway__name="evo-main",
        gateway__base_url=EVO,
        gateway__api_key="evolution-global-key",
    )


def test_with_nothing_configured_every_service_says_so_and_all_is_ok(client, http):
    response = client.get(URL)

    assert response.status_code == 200
    report = response.json()
    assert report["status"] == "ok"
    assert report["gateways"] == {}
    for name in ("openai", "salvy", "slack"):
        assert report["services"][name] == {"configured": False, "reachable": None, "error": ""}


def test_the_model_server_is_asked_for_its_models_with_the_key(client, http, model):
    models = http.get(f"{LLM}/models").respond(200, json={"object": "list", "data": [{"id": "gpt-4o-mini"}]})

    report = client.get(URL).json()

    assert report["services"]["openai"] == {"configured": True, "reachable": True, "error": ""}
    assert models.calls.last.request.headers["Authorization"] == f"Bearer {LLM_KEY}"
    assert report["status"] == "ok"


def test_a_refused_key_degrades_the_report_without_showing_the_key_or_the_url(client, http, model):
    http.get(f"{LLM}/models").respond(401, json={"error": {"message": f"Incorrect API key provided: {LLM_KEY}"}})

    response = client.get(URL)

    report = response.json()
    assert response.status_code == 200
    assert report["status"] == "degraded"
    assert report["services"]["openai"] == {
        "configured": True,
        "reachable": False,
        "error": "HTTP 401: credentials refused",
    }
    assert LLM_KEY.encode() not in response.content and b"llm.test" not in response.content


def test_a_model_server_that_does_not_answer_in_time_is_unreachable(client, http, model):
    http.get(f"{LLM}/models").mock(side_effect=httpx.ConnectTimeout("timed out"))

    assert client.get(URL).json()["services"]["openai"]["error"] == "timed out"


def test_salvy_is_asked_for_its_area_codes(client, http, settings):
    settings.SALVY_API_URL, settings.SALVY_API_TOKEN = SALVY_ROOT, "salvy_test_0123456789"
    area_codes = route_area_codes(http)

    report = client.get(URL).json()

    assert report["services"]["salvy"] == {"configured": True, "reachable": True, "error": ""}
    assert area_codes.call_count == 1  # one attempt: a probe does not retry


def test_salvy_refusing_the_token_is_reported(client, http, settings):
    settings.SALVY_API_URL, settings.SALVY_API_TOKEN = SALVY_ROOT, "salvy_test_0123456789"
    http.get(f"{SALVY_ROOT}/virtual-phone-accounts/area-codes").respond(
        401, json={"code": "unauthorized", "message": "Invalid token", "publicDetails": {}}
    )

    report = client.get(URL).json()

    assert report["services"]["salvy"]["reachable"] is False
    assert report["status"] == "degraded"


def test_slack_is_configured_but_never_posted_to(client, http, settings):
    settings.SLACK_WEBHOOK_URL = "https://hooks.slack.test/services/T000/B000/XXXX"

    report = client.get(URL).json()

    assert report["services"]["slack"] == {"configured": True, "reachable": None, "error": ""}
    assert report["status"] == "ok"
    assert not http.calls


def test_a_gateway_is_asked_about_one_of_its_live_chips_with_its_key(client, http):
    live_evolution_chip()
    state = http.get(f"{EVO}/instance/connectionState/acme-01").respond(
        200, json={"instance": {"instanceName": "acme-01", "state": "open"}}
    )
    http.get(f"{EVO}/instance/fetchInstances").respond(
        200, json=[{"name": "acme-01", "connectionStatus": "open", "ownerJid": "5511987654321@s.whatsapp.net"}]
    )

    report = client.get(URL).json()

    assert report["gateways"] == {"evo-main": {"kind": "evolution", "configured": True, "reachable": True, "error": ""}}
    assert state.calls.last.request.headers["apikey"] == "evolution-global-key"


def test_a_gateway_refusing_its_key_degrades_the_report(client, http):
    live_evolution_chip()
    http.get(f"{EVO}/instance/connectionState/acme-01").respond(401, json={"status": 401, "error": "Unauthorized"})

    report = client.get(URL).json()

    assert report["gateways"]["evo-main"] == {
        "kind": "evolution",
        "configured": True,
        "reachable": False,
        "error": "HTTP 401",
    }
    assert report["status"] == "degraded"


def test_a_send_only_relay_is_probed_at_its_base_url(client, http):
    ChipFactory(status=ChipStatus.ACTIVE, gateway__name="relay", gateway__kind="whaticket", gateway__base_url=RELAY)
    home = http.get(f"{RELAY}").respond(404)  # a server that answers, even without a page there

    report = client.get(URL).json()

    assert report["gateways"]["relay"]["reachable"] is True
    assert home.call_count == 1


def test_a_gateway_without_a_live_chip_whose_server_is_down_is_unreachable(client, http):
    live_evolution_chip(status=ChipStatus.CANCELLED)
    http.get(EVO).mock(side_effect=httpx.ConnectError("connection refused"))

    report = client.get(URL).json()

    assert report["gateways"]["evo-main"]["reachable"] is False
    assert report["gateways"]["evo-main"]["error"] == "no connection (ConnectError)"


def test_an_inactive_gateway_is_left_out(client, http):
    GatewayFactory(name="old", is_active=False)

    assert client.get(URL).json()["gateways"] == {}


def test_one_report_answers_every_caller_for_a_while(client, http, model):
    models = http.get(f"{LLM}/models").respond(200, json={"object": "list", "data": []})

    first, second = client.get(URL).json(), client.get(URL).json()

    assert first == second
    assert models.call_count == 1


def test_only_get_is_allowed(client):
    assert client.post(URL).status_code == 405
