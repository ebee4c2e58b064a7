"""The Salvy v2 client, faked with respx against the documented request and answer shapes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
import respx

from integrations.salvy import (
    CANCEL_REASONS,
    AreaCode,
    SalvyClient,
    SalvyError,
    SalvyNotConfigured,
    api_root,
    salvy_client_from_settings,
)
from integrations.salvy.errors import retry_after_seconds
from tests.payloads import load_fixture

ROOT = "https://api.salvy.com.br/api/v2"
TOKEN = "salvy_test_abc123"
ACCOUNT_ID = "0140a8c6-3815-45b7-9e60-8e137cad845c"


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def client(sleeps):
    with httpx.Client() as http:
        yield SalvyClient(ROOT, TOKEN, http=http, sleep=sleeps.append)


@pytest.fixture
def router():
    with respx.mock(assert_all_called=False) as mock:
        yield mock


def error_body(code: str, message: str = "detalhe", **details: str) -> dict:
    return {"code": code, "message": message, "publicDetails": details}


def only_request(route) -> httpx.Request:
    assert route.call_count == 1
    return route.calls.last.request


# --- requests and parsing ------------------------------------------------------------------------


def test_area_codes_lists_every_ddd_with_its_stock(client, router):
    route = router.get(f"{ROOT}/virtual-phone-accounts/area-codes").respond(
        200, json=load_fixture("salvy/area_codes.json")
    )

    codes = client.area_codes()

    assert codes == [AreaCode("11", True), AreaCode("21", False), AreaCode("31", True)]
    request = only_request(route)
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.url.query == b""


def test_area_codes_available_only_asks_salvy_to_filter_and_drops_any_sold_out(client, router):
    route = router.get(f"{ROOT}/virtual-phone-accounts/area-codes").respond(
        200, json=load_fixture("salvy/area_codes.json")
    )

    codes = client.area_codes(available_only=True)

    assert [code.area_code for code in codes] == ["11", "31"]
    assert only_request(route).url.params["available"] == "true"


def test_create_posts_the_ddd_as_a_number_with_the_name(client, router):
    route = router.post(f"{ROOT}/virtual-phone-accounts").respond(200, json=load_fixture("salvy/account__active.json"))

    account = client.create(area_code="11", name="recado-sp-01")

    request = only_request(route)
    assert request.method == "POST"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert json.loads(request.content) == {"areaCode": 11, "name": "recado-sp-01"}
    assert account.id == ACCOUNT_ID
    assert account.phone_number == "+551151231234"
    assert account.status == "active"
    assert account.name == "meu-número-virtual"
    assert account.created_at == datetime(2023, 11, 7, 5, 31, 56, tzinfo=UTC)
    assert account.canceled_at is None
    assert account.cancel_reason == ""
    assert account.raw["customFields"] == [{"label": "Departamento", "type": "text", "value": "Vendas"}]


def test_create_without_a_name_sends_only_the_ddd(client, router):
    route = router.post(f"{ROOT}/virtual-phone-accounts").respond(200, json=load_fixture("salvy/account__active.json"))

    client.create(area_code=" 21 ")

    assert json.loads(only_request(route).content) == {"areaCode": 21}


@pytest.mark.parametrize("area_code", ["", "1", "011", "10", "ab", "1 1", "119"])
def test_create_refuses_a_malformed_ddd_before_calling_salvy(client, router, area_code):
    route = router.post(f"{ROOT}/virtual-phone-accounts").respond(200, json={})

    with pytest.raises(ValueError, match="two-digit Brazilian DDD"):
        client.create(area_code=area_code)
    assert route.call_count == 0


def test_get_reads_one_account(client, router):
    route = router.get(f"{ROOT}/virtual-phone-accounts/{ACCOUNT_ID}").respond(
        200, json=load_fixture("salvy/account__active.json")
    )

    account = client.get(ACCOUNT_ID)

    assert only_request(route).method == "GET"
    assert (account.id, account.status) == (ACCOUNT_ID, "active")


def test_get_escapes_the_id_in_the_path(client, router):
    route = router.get(url__regex=r".*/virtual-phone-accounts/.*").respond(
        200, json=load_fixture("salvy/account__active.json")
    )

    client.get("a/b?c")

    assert only_request(route).url.raw_path == b"/api/v2/virtual-phone-accounts/a%2Fb%3Fc"


def test_list_returns_every_account_of_the_plain_array(client, router):
    router.get(f"{ROOT}/virtual-phone-accounts").respond(200, json=load_fixture("salvy/account_list.json"))

    accounts = client.list()

    assert [(account.status, account.name) for account in accounts] == [
        ("active", "meu-número-virtual"),
        ("pending", ""),
        ("canceled", "recado-sp-03"),
    ]
    canceled = accounts[2]
    assert canceled.canceled_at == datetime(2025, 8, 20, 16, 5, 42, tzinfo=UTC)
    assert canceled.cancel_reason == "whatsapp-ban"


def test_list_filters_by_status_here_because_v2_has_no_filter(client, router):
    route = router.get(f"{ROOT}/virtual-phone-accounts").respond(200, json=load_fixture("salvy/account_list.json"))

    pending = client.list(status="pending")

    assert [account.id for account in pending] == ["5c2e9f3a-8d41-4b6e-a0f7-3e9b2d6c1f48"]
    assert only_request(route).url.query == b""


def test_list_refuses_an_unknown_status(client, router):
    route = router.get(f"{ROOT}/virtual-phone-accounts").respond(200, json=[])

    with pytest.raises(ValueError, match="unknown Salvy account status 'banned'"):
        client.list(status="banned")
    assert route.call_count == 0


@pytest.mark.parametrize("reason", CANCEL_REASONS)
def test_cancel_sends_the_reason_as_a_query_parameter(client, router, reason):
    route = router.delete(f"{ROOT}/virtual-phone-accounts/{ACCOUNT_ID}").respond(204)

    assert client.cancel(ACCOUNT_ID, reason=reason) is None

    request = only_request(route)
    assert request.method == "DELETE"
    assert dict(request.url.params) == {"reason": reason}
    assert request.content == b""
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_cancel_refuses_an_unknown_reason_before_calling_salvy(client, router):
    route = router.delete(f"{ROOT}/virtual-phone-accounts/{ACCOUNT_ID}").respond(204)

    with pytest.raises(ValueError, match="unknown Salvy cancel reason 'banned'"):
        client.cancel(ACCOUNT_ID, reason="banned")
    assert route.call_count == 0


def test_cancel_of_an_already_canceled_number_succeeds(client, router):
    router.delete(f"{ROOT}/virtual-phone-accounts/{ACCOUNT_ID}").respond(422, json=error_body("unprocessable-entity"))
    canceled = {**load_fixture("salvy/account__active.json"), "status": "canceled", "cancelReason": "unnecessary"}
    lookup = router.get(f"{ROOT}/virtual-phone-accounts/{ACCOUNT_ID}").respond(200, json=canceled)

    client.cancel(ACCOUNT_ID, reason="unnecessary")

    assert lookup.call_count == 1


def test_cancel_refused_for_a_live_number_raises_salvys_error(client, router):
    router.delete(f"{ROOT}/virtual-phone-accounts/{ACCOUNT_ID}").respond(
        422, json=error_body("unprocessable-entity", "linha em uso")
    )
    router.get(f"{ROOT}/virtual-phone-accounts/{ACCOUNT_ID}").respond(
        200, json=load_fixture("salvy/account__active.json")
    )

    with pytest.raises(SalvyError) as caught:
        client.cancel(ACCOUNT_ID, reason="unnecessary")
    assert caught.value.code == "unprocessable-entity"
    assert "linha em uso" in str(caught.value)


def test_sms_messages_sends_the_filters_and_reads_each_sms(client, router):
    route = router.get(f"{ROOT}/virtual-phone-accounts/{ACCOUNT_ID}/sms-messages").respond(
        200, json=load_fixture("salvy/sms_messages.json")
    )
    since = datetime(2025, 9, 1, 0, 0, tzinfo=timezone(timedelta(hours=-3)))

    messages = client.sms_messages(ACCOUNT_ID, page=2, page_size=100, received_from=since, service="whatsapp")

    assert only_request(route).url.params.multi_items() == [
        ("page", "2"),
        ("pageSize", "100"),
        ("receivedAtFrom", "2025-09-01T03:00:00Z"),
        ("service", "whatsapp"),
    ]
    assert [(sms.whatsapp_code, sms.origin) for sms in messages] == [
        ("944591", "WhatsApp"),
        ("", "28888"),
        ("123456", "23456"),
    ]
    first = messages[0]
    assert first.phone_account_id == ACCOUNT_ID
    assert first.id == "c3a9e1f0-2b7d-4e85-9f16-8d0a4b5c7e29"
    assert first.destination == "+5511987654321"
    assert first.message == "Your WhatsApp code: 944-591"
    assert first.received_at == datetime(2025, 9, 5, 9, 12, 30, tzinfo=UTC)


def test_sms_messages_defaults_to_the_first_page_of_fifty(client, router):
    route = router.get(f"{ROOT}/virtual-phone-accounts/{ACCOUNT_ID}/sms-messages").respond(
        200, json={"smsMessages": [], "pagination": {"page": 1, "pageSize": 50, "totalCount": 0, "totalPages": 0}}
    )

    assert client.sms_messages(ACCOUNT_ID) == []
    assert dict(only_request(route).url.params) == {"page": "1", "pageSize": "50"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"page": 0}, "page starts at 1"),
        ({"page_size": 201}, "page_size must be between 1 and 200"),
        ({"page_size": 0}, "page_size must be between 1 and 200"),
        ({"received_from": datetime(2025, 9, 1)}, "timezone-aware"),
    ],
)
def test_sms_messages_refuses_bad_arguments_before_calling_salvy(client, router, kwargs, message):
    route = router.get(url__regex=r".*").respond(200, json={})

    with pytest.raises(ValueError, match=message):
        client.sms_messages(ACCOUNT_ID, **kwargs)
    assert route.call_count == 0


# --- base URL and configuration ------------------------------------------------------------------


@pytest.mark.parametrize(
    "base_url",
    [
        "https://api.salvy.com.br",
        "https://api.salvy.com.br/",
        "https://api.salvy.com.br/api/v2",
        "https://api.salvy.com.br/api/v2/",
        " https://api.salvy.com.br/api ",
    ],
)
def test_base_url_works_with_or_without_the_version_path(router, base_url):
    route = router.get("https://api.salvy.com.br/api/v2/virtual-phone-accounts").respond(200, json=[])

    with httpx.Client() as http:
        assert SalvyClient(base_url, TOKEN, http=http).list() == []
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("base_url", "message"),
    [
        ("https://api.salvy.com.br/api/v3", "speaks v2"),
        ("api.salvy.com.br", "http\\(s\\) URL"),
        ("", "http\\(s\\) URL"),
    ],
)
def test_a_wrong_base_url_is_refused_with_a_clear_message(base_url, message):
    with pytest.raises(ValueError, match=message):
        api_root(base_url)


@pytest.mark.parametrize("token", ["", "   "])
def test_an_empty_token_is_not_configured(token):
    with pytest.raises(SalvyNotConfigured, match="SALVY_API_TOKEN"):
        SalvyClient(ROOT, token)


def test_from_settings_refuses_an_empty_token(settings):
    settings.SALVY_API_TOKEN = ""

    with pytest.raises(SalvyNotConfigured) as caught:
        salvy_client_from_settings()
    assert caught.value.permanent is True


def test_from_settings_uses_the_configured_url_and_token(settings, router):
    settings.SALVY_API_URL = "https://salvy.example.test"
    settings.SALVY_API_TOKEN = "salvy_prod_xyz"
    route = router.get("https://salvy.example.test/api/v2/virtual-phone-accounts").respond(200, json=[])

    salvy_client_from_settings().list()

    assert only_request(route).headers["Authorization"] == "Bearer salvy_prod_xyz"


# --- error mapping -------------------------------------------------------------------------------


def test_out_of_stock_names_the_ddd(client, router):
    router.post(f"{ROOT}/virtual-phone-accounts").respond(409, json=load_fixture("salvy/error__out_of_stock.json"))

    with pytest.raises(SalvyError) as caught:
        client.create(area_code="11")

    error = caught.value
    assert str(error) == "no numbers left for DDD 11; pick another DDD"
    assert (error.code, error.status_code, error.permanent) == ("did-area-code-out-of-stock", 409, True)


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (401, "unauthorized", "Salvy rejected the API token (SALVY_API_TOKEN)"),
        (403, "forbidden", "Salvy refused this operation for the configured API token"),
        (403, "company-tier-limit-exceeded", "reached its plan's limit of numbers"),
        (403, "virtual-phone-account-beta-tester", "not enabled for virtual numbers"),
        (404, "resource-not-found", "Salvy found no such resource"),
        (413, "payload-too-large", "Salvy rejected the request as too large"),
        (422, "input-validation-error", "Salvy rejected the request as invalid"),
        (422, "unprocessable-entity", "Salvy could not process the request"),
        (422, "company-not-active", "company account is not active"),
        (422, "missing-area-code-inventory-config", "no number inventory configured for DDD 21"),
        (422, "company-has-pending-verification", "pending verification"),
    ],
)
def test_each_permanent_salvy_code_gets_a_clear_message_and_no_retry(client, router, sleeps, status, code, expected):
    route = router.post(f"{ROOT}/virtual-phone-accounts").respond(status, json=error_body(code))

    with pytest.raises(SalvyError) as caught:
        client.create(area_code="21")

    error = caught.value
    assert expected in str(error)
    assert (error.code, error.status_code, error.permanent) == (code, status, True)
    assert route.call_count == 1
    assert sleeps == []
    assert TOKEN not in str(error)


def test_validation_errors_carry_salvys_own_detail(client, router):
    router.post(f"{ROOT}/virtual-phone-accounts").respond(
        422, json=error_body("input-validation-error", "Dados inválidos", areaCode="deve ser um número")
    )

    with pytest.raises(SalvyError) as caught:
        client.create(area_code="11", name="x")

    assert str(caught.value) == "Salvy rejected the request as invalid: Dados inválidos; areaCode: deve ser um número"
    assert caught.value.details == {"areaCode": "deve ser um número"}


def test_not_found_names_the_account(client, router):
    router.get(f"{ROOT}/virtual-phone-accounts/missing-id").respond(404, json=error_body("resource-not-found"))

    with pytest.raises(SalvyError, match="Salvy has no phone account missing-id"):
        client.get("missing-id")


def test_an_error_without_a_json_body_is_named_by_its_status(client, router):
    router.get(f"{ROOT}/virtual-phone-accounts").respond(401, text="<html>Unauthorized</html>")

    with pytest.raises(SalvyError) as caught:
        client.list()

    assert caught.value.code == "unauthorized"
    assert str(caught.value) == "Salvy rejected the API token (SALVY_API_TOKEN)"


def test_an_unexpected_4xx_is_permanent_and_keeps_salvys_words(client, router):
    router.get(f"{ROOT}/virtual-phone-accounts").respond(418, json=error_body("teapot", "sou um bule"))

    with pytest.raises(SalvyError) as caught:
        client.list()

    assert caught.value.permanent is True
    assert "HTTP 418" in str(caught.value)
    assert "sou um bule" in str(caught.value)


def test_an_unreadable_success_body_is_an_invalid_response(client, router):
    router.get(f"{ROOT}/virtual-phone-accounts").respond(200, json={"accounts": []})

    with pytest.raises(SalvyError) as caught:
        client.list()

    assert caught.value.code == "invalid-response"
    assert "expected a JSON array" in str(caught.value)


def test_an_account_without_an_id_is_an_invalid_response(client, router):
    router.get(f"{ROOT}/virtual-phone-accounts/{ACCOUNT_ID}").respond(200, json={"status": "active"})

    with pytest.raises(SalvyError, match="phone account without an 'id'"):
        client.get(ACCOUNT_ID)


# --- retries -------------------------------------------------------------------------------------


def test_server_errors_are_retried_with_backoff_until_success(client, router, sleeps):
    route = router.get(f"{ROOT}/virtual-phone-accounts").mock(
        side_effect=[
            httpx.Response(503, text="upstream down"),
            httpx.Response(500, json=error_body("unknown")),
            httpx.Response(200, json=load_fixture("salvy/account_list.json")),
        ]
    )

    assert len(client.list()) == 3
    assert route.call_count == 3
    assert sleeps == [0.5, 1.0]


def test_rate_limit_waits_for_retry_after(client, router, sleeps):
    route = router.get(f"{ROOT}/virtual-phone-accounts/area-codes").mock(
        side_effect=[
            httpx.Response(429, json=error_body("too-many-requests"), headers={"Retry-After": "2"}),
            httpx.Response(200, json=load_fixture("salvy/area_codes.json")),
        ]
    )

    assert len(client.area_codes()) == 3
    assert route.call_count == 2
    assert sleeps == [2.0]


def test_a_long_retry_after_is_handed_to_the_caller_instead_of_slept(client, router, sleeps):
    route = router.get(f"{ROOT}/virtual-phone-accounts").respond(429, headers={"Retry-After": "120"})

    with pytest.raises(SalvyError) as caught:
        client.list()

    error = caught.value
    assert (error.code, error.permanent, error.retry_after) == ("too-many-requests", False, 120.0)
    assert route.call_count == 1
    assert sleeps == []


def test_retry_after_may_be_an_http_date():
    later = datetime.now(UTC) + timedelta(seconds=90)
    response = httpx.Response(429, headers={"Retry-After": later.strftime("%a, %d %b %Y %H:%M:%S GMT")})

    assert 80 <= retry_after_seconds(response) <= 90


def test_persistent_server_errors_give_up_after_max_attempts(client, router, sleeps):
    route = router.get(f"{ROOT}/virtual-phone-accounts").respond(502, text="bad gateway")

    with pytest.raises(SalvyError) as caught:
        client.list()

    error = caught.value
    assert (error.code, error.status_code, error.permanent) == ("unknown", 502, False)
    assert str(error) == "Salvy had an internal error"
    assert route.call_count == 3
    assert sleeps == [0.5, 1.0]


def test_client_errors_are_not_retried(client, router, sleeps):
    route = router.get(f"{ROOT}/virtual-phone-accounts/{ACCOUNT_ID}").respond(
        404, json=error_body("resource-not-found")
    )

    with pytest.raises(SalvyError):
        client.get(ACCOUNT_ID)
    assert route.call_count == 1
    assert sleeps == []


@pytest.mark.parametrize(
    ("failure", "code", "message"),
    [
        (httpx.ConnectError("refused"), "network", "cannot reach Salvy (ConnectError)"),
        (httpx.ReadTimeout("slow"), "timeout", "Salvy did not answer in time (ReadTimeout)"),
    ],
)
def test_network_failures_on_reads_are_retried(client, router, sleeps, failure, code, message):
    route = router.get(f"{ROOT}/virtual-phone-accounts").mock(
        side_effect=[failure, failure, httpx.Response(200, json=[])]
    )

    assert client.list() == []
    assert route.call_count == 3

    route.side_effect = failure
    with pytest.raises(SalvyError) as caught:
        client.list()
    assert (caught.value.code, str(caught.value), caught.value.permanent) == (code, message, False)


def test_create_is_not_retried_after_a_server_error(client, router, sleeps):
    route = router.post(f"{ROOT}/virtual-phone-accounts").respond(500, json=error_body("unknown", "falha interna"))

    with pytest.raises(SalvyError) as caught:
        client.create(area_code="11", name="recado-sp-01")

    error = caught.value
    assert route.call_count == 1
    assert sleeps == []
    assert (error.permanent, error.outcome_unknown) == (False, True)


def test_create_is_not_retried_after_a_read_timeout(client, router, sleeps):
    route = router.post(f"{ROOT}/virtual-phone-accounts").mock(side_effect=httpx.ReadTimeout("no answer"))

    with pytest.raises(SalvyError) as caught:
        client.create(area_code="11")

    assert route.call_count == 1
    assert (caught.value.code, caught.value.outcome_unknown) == ("timeout", True)


@pytest.mark.parametrize("failure", [httpx.ConnectError("refused"), httpx.ConnectTimeout("no route")])
def test_create_is_retried_when_the_request_never_left(client, router, sleeps, failure):
    route = router.post(f"{ROOT}/virtual-phone-accounts").mock(
        side_effect=[failure, httpx.Response(200, json=load_fixture("salvy/account__active.json"))]
    )

    assert client.create(area_code="11").id == ACCOUNT_ID
    assert route.call_count == 2
    assert sleeps == [0.5]


def test_create_is_retried_after_a_rate_limit(client, router, sleeps):
    route = router.post(f"{ROOT}/virtual-phone-accounts").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "1"}),
            httpx.Response(200, json=load_fixture("salvy/account__active.json")),
        ]
    )

    assert client.create(area_code="11").id == ACCOUNT_ID
    assert route.call_count == 2
    assert sleeps == [1.0]


def test_create_with_an_unreadable_answer_says_the_number_may_exist(client, router):
    router.post(f"{ROOT}/virtual-phone-accounts").respond(200, text="<html>ok</html>")

    with pytest.raises(SalvyError) as caught:
        client.create(area_code="11")

    assert (caught.value.code, caught.value.outcome_unknown) == ("invalid-response", True)


def test_cancel_is_retried_after_a_server_error(client, router, sleeps):
    route = router.delete(f"{ROOT}/virtual-phone-accounts/{ACCOUNT_ID}").mock(
        side_effect=[httpx.Response(503), httpx.Response(204)]
    )

    client.cancel(ACCOUNT_ID, reason="technical-issues")

    assert route.call_count == 2


def test_create_is_not_retried_when_the_connection_drops_after_sending(client, router, sleeps):
    route = router.post(f"{ROOT}/virtual-phone-accounts").mock(
        side_effect=httpx.RemoteProtocolError("Server disconnected without sending a response.")
    )

    with pytest.raises(SalvyError) as caught:
        client.create(area_code="11")

    assert route.call_count == 1
    assert str(caught.value) == "the connection to Salvy failed (RemoteProtocolError)"
    assert (caught.value.permanent, caught.value.outcome_unknown) == (False, True)


def test_create_that_never_connected_is_known_not_to_have_bought_anything(client, router, sleeps):
    router.post(f"{ROOT}/virtual-phone-accounts").mock(side_effect=httpx.ConnectError("refused"))

    with pytest.raises(SalvyError) as caught:
        client.create(area_code="11")

    assert (caught.value.code, caught.value.outcome_unknown) == ("network", False)
    assert sleeps == [0.5, 1.0]
