"""POST /webhooks/salvy/: Svix signatures, dedup on svix-id, SMS codes stored, account events applied."""

from __future__ import annotations

import json
import time

import pytest

from chips.models import Chip, ChipAlert, GatewayKind, SalvyDelivery, SmsCode
from tests.chips import salvy_fakes
from tests.chips.salvy_fakes import (
    ACCOUNT_ID,
    GRAPH_URL,
    PHONE,
    SVIX_SECRET,
    graph_success,
    route_account,
    sms_received,
    svix_headers,
)
from tests.factories import ChipFactory
from tests.payloads import load_fixture

URL = "/webhooks/salvy/"
pytestmark = pytest.mark.django_db
http, salvy, slack, run_tasks_inline = (
    salvy_fakes.http,
    salvy_fakes.salvy,
    salvy_fakes.slack,
    salvy_fakes.run_tasks_inline,
)


@pytest.fixture(autouse=True)
def secret(settings):
    settings.SALVY_WEBHOOK_SECRET = SVIX_SECRET


@pytest.fixture
def chip():
    return ChipFactory(phone=PHONE, salvy_id=ACCOUNT_ID, status="pending")


def raw(body) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body).encode()


def post(client, body, *, headers=None, msg_id="msg_2vQ1AbCdEfGh", **sign):
    data = raw(body)
    headers = svix_headers(data, msg_id=msg_id, **sign) if headers is None else headers
    return client.post(URL, data=data, content_type="application/json", headers=headers)


def stored_nothing() -> bool:
    return not (SmsCode.objects.exists() or SalvyDelivery.objects.exists() or ChipAlert.objects.exists())


@pytest.mark.parametrize(
    ("fixture", "detected"),
    [
        ("sms_received__v2.json", "123456"),  # only the deprecated virtualPhoneAccountId; Salvy detected the code
        ("sms_received__v3.json", "123456"),  # phoneAccountId too; no detections: the code comes from the text
    ],
)
def test_a_signed_sms_stores_the_code_for_the_chip(
    client, chip, slack, fixture, detected, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, load_fixture(f"salvy/{fixture}"))
    assert response.status_code == 200, response.content
    assert response.json() == {
        "recorded": True,
        "duplicate": False,
        "event": "sms.received",
        "chip": chip.pk,
        "code_found": True,
        "refresh_queued": False,
        "ignored": "",
    }
    sms = SmsCode.objects.get()
    assert (sms.chip, sms.code, sms.source, sms.salvy_account_id) == (chip, detected, "webhook", ACCOUNT_ID)
    assert (sms.origin, sms.destination, sms.text) == ("23456", PHONE, "Seu codigo de verificação e 123456")
    assert sms.received_at.isoformat() == "2025-09-03T00:00:00+00:00"
    assert (
        ChipAlert.objects.get(chip=chip, kind="sms_code").message == f"WhatsApp code 123456 received for chip {PHONE}"
    )
    assert slack == [f":envelope_with_arrow: WhatsApp code 123456 received for chip {PHONE}"]
    assert SalvyDelivery.objects.get().svix_id == "msg_2vQ1AbCdEfGh"


def test_the_chip_is_found_by_its_number_when_the_account_is_not_ours(client):
    chip = ChipFactory(phone=PHONE)  # registered by hand: no Salvy id
    response = post(client, load_fixture("salvy/sms_received__hyphen_code.json"))
    assert response.status_code == 200
    assert (SmsCode.objects.get().chip, SmsCode.objects.get().code) == (chip, "944591")


def test_a_redelivery_is_answered_200_and_stored_once(client, chip, slack, django_capture_on_commit_callbacks):
    body = load_fixture("salvy/sms_received__v2.json")
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, body).status_code == 200
        again = post(client, body)
    assert again.status_code == 200
    assert again.json()["duplicate"] is True and again.json()["recorded"] is False
    assert (SmsCode.objects.count(), SalvyDelivery.objects.count()) == (1, 1)
    assert "repeats" not in ChipAlert.objects.get().details
    assert len(slack) == 1


def test_the_same_sms_in_a_new_delivery_is_not_stored_twice(client, chip):
    body = load_fixture("salvy/sms_received__v2.json")
    assert post(client, body, msg_id="msg_first").status_code == 200
    second = post(client, body, msg_id="msg_second")
    assert second.status_code == 200 and second.json()["duplicate"] is True
    assert SmsCode.objects.count() == 1
    assert SalvyDelivery.objects.count() == 2


def test_an_sms_for_an_unknown_number_is_kept_for_audit(client):
    response = post(client, sms_received(destinationPhoneNumber="+5521987650000"))
    assert response.status_code == 200
    assert response.json()["chip"] is None
    sms = SmsCode.objects.get()
    assert (sms.chip, sms.destination, sms.code) == (None, "+5521987650000", "123456")


def test_an_sms_without_a_code_is_kept_without_alerting(client, slack, django_capture_on_commit_callbacks):
    chip = ChipFactory(phone=PHONE, salvy_id="5c2e9f3a-8d41-4b6e-a0f7-3e9b2d6c1f48")
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, load_fixture("salvy/sms_received__no_code.json"))
    assert response.status_code == 200 and response.json()["code_found"] is False
    assert (SmsCode.objects.get().chip, SmsCode.objects.get().code) == (chip, "")
    assert not ChipAlert.objects.exists()
    assert slack == []


def test_a_cloud_api_chip_gets_its_code_submitted(client, http, run_tasks_inline, django_capture_on_commit_callbacks):
    ChipFactory(
        phone=PHONE,
        salvy_id=ACCOUNT_ID,
        status="pending",
        instance_name="106540352242922",
        gateway__kind=GatewayKind.CLOUDAPI,
        gateway__base_url=GRAPH_URL,
    )
    verify = http.post(f"{GRAPH_URL}/106540352242922/verify_code").mock(return_value=graph_success())
    http.post(f"{GRAPH_URL}/106540352242922/register").mock(return_value=graph_success())
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, load_fixture("salvy/sms_received__v3.json")).status_code == 200
    assert verify.calls.last.request.url.params["code"] == "123456"
    assert SmsCode.objects.get().used_at is not None


def test_an_account_event_fetches_the_account_and_applies_its_state(
    client, chip, salvy, run_tasks_inline, django_capture_on_commit_callbacks
):
    get = route_account(salvy, status="blocked")
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, load_fixture("salvy/phone_account_blocked.json"))
    assert response.status_code == 200 and response.json()["refresh_queued"] is True
    assert run_tasks_inline == [("chips.salvy_account_refresh", [ACCOUNT_ID])]
    assert get.call_count == 1
    chip.refresh_from_db()
    assert (chip.status, chip.salvy_status) == ("banned", "blocked")
    transition = chip.transitions.get()
    assert (transition.reason, transition.triggered_by) == ("Salvy blocked the number", "webhook:salvy")


def test_a_redelivered_account_event_fetches_the_account_once(
    client, chip, salvy, run_tasks_inline, django_capture_on_commit_callbacks
):
    get = route_account(salvy, status="active")
    body = load_fixture("salvy/phone_account_blocked.json")
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, body).status_code == 200
        again = post(client, body)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert get.call_count == 1
    assert len(run_tasks_inline) == 1


def test_an_event_out_of_order_follows_salvy_not_the_event(
    client, chip, salvy, run_tasks_inline, django_capture_on_commit_callbacks
):
    body = load_fixture("salvy/phone_account_blocked.json")
    body["type"] = "phone-account.unblocked"  # arrives after the block it should follow, which is still in force
    route_account(salvy, status="blocked")
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, body).status_code == 200
    assert Chip.objects.get(pk=chip.pk).status == "banned"


def test_an_event_type_we_do_not_use_is_acknowledged(client):
    body = {
        "type": "phone-account.activated",
        "timestamp": "2025-09-06T18:45:00Z",
        "data": {"phoneAccountId": ACCOUNT_ID},
    }
    response = post(client, body)
    assert response.status_code == 200
    assert response.json()["ignored"] == "event type 'phone-account.activated' is not used"
    assert SalvyDelivery.objects.get().event_type == "phone-account.activated"


# --- what is refused ---------------------------------------------------------------------------------


def test_a_wrong_signature_is_401_and_stores_nothing(client, chip):
    body = raw(load_fixture("salvy/sms_received__v2.json"))
    response = post(client, body, secret="whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY")
    assert response.status_code == 401
    assert "signature" in response.json()["error"]
    assert stored_nothing()


def test_a_stale_signature_is_401(client, chip):
    response = post(client, load_fixture("salvy/sms_received__v2.json"), at=int(time.time()) - 600)
    assert response.status_code == 401
    assert "too old" in response.json()["error"]
    assert stored_nothing()


def test_a_body_changed_after_signing_is_401(client, chip):
    signed = raw(load_fixture("salvy/sms_received__v2.json"))
    tampered = signed.replace(b"123456", b"654321")
    response = post(client, tampered, headers=svix_headers(signed))
    assert response.status_code == 401
    assert stored_nothing()


@pytest.mark.parametrize("missing", ["svix-id", "svix-timestamp", "svix-signature"])
def test_a_missing_svix_header_is_401(client, chip, missing):
    body = raw(load_fixture("salvy/sms_received__v2.json"))
    headers = svix_headers(body)
    del headers[missing]
    response = post(client, body, headers=headers)
    assert response.status_code == 401
    assert missing in response.json()["error"]
    assert stored_nothing()


def test_a_signature_header_without_version_is_401(client, chip):
    body = raw(load_fixture("salvy/sms_received__v2.json"))
    headers = {**svix_headers(body), "svix-signature": "v1a"}
    assert post(client, body, headers=headers).status_code == 401
    assert stored_nothing()


def test_without_a_secret_configured_the_answer_is_503(client, chip, settings):
    settings.SALVY_WEBHOOK_SECRET = ""
    response = post(client, load_fixture("salvy/sms_received__v2.json"))
    assert response.status_code == 503
    assert "SALVY_WEBHOOK_SECRET" in response.json()["error"]
    assert stored_nothing()


def test_malformed_json_is_400(client):
    response = post(client, b'{"type": "sms.received", "data": ')
    assert response.status_code == 400
    assert response.json() == {"error": "body is not valid JSON"}
    assert stored_nothing()


def test_an_sms_event_without_its_fields_is_400(client):
    body = sms_received()
    del body["data"]["id"]
    response = post(client, body)
    assert response.status_code == 400
    assert response.json() == {"error": "SMS without an 'id'"}
    assert stored_nothing()


def test_an_oversized_body_is_413(client, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 200
    response = post(client, sms_received(message="x" * 500))
    assert response.status_code == 413
    assert stored_nothing()


def test_only_post_is_accepted(client):
    assert client.get(URL).status_code == 405
