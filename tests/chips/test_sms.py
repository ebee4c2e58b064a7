"""SMS from Salvy numbers: stored once whatever the source, codes surfaced, Cloud API codes submitted to Meta."""

from __future__ import annotations

import json

import pytest

from chips import tasks
from chips.models import ChipAlert, GatewayKind, SmsCode, SmsSource
from chips.sms import CodeSubmitRetry, sms_code_mark_used, sms_code_submit, sms_received_record
from integrations.salvy import parse_sms_received
from integrations.salvy.sms import sms_from_fields
from tests.chips import salvy_fakes
from tests.chips.salvy_fakes import ACCOUNT_ID, GRAPH_URL, PHONE, graph_error, graph_success, sms_received
from tests.factories import ChipFactory
from tests.payloads import load_fixture

pytestmark = pytest.mark.django_db
http, run_tasks_inline, slack = salvy_fakes.http, salvy_fakes.run_tasks_inline, salvy_fakes.slack  # fixtures

PHONE_NUMBER_ID = "106540352242922"


@pytest.fixture
def cloud_chip():
    """A Cloud API number bought at Salvy, waiting for its registration code."""
    return ChipFactory(
        gateway__kind=GatewayKind.CLOUDAPI,
        gateway__base_url=GRAPH_URL,
        gateway__api_key="EAAG-test-access-token",
        instance_name=PHONE_NUMBER_ID,
        phone=PHONE,
        salvy_id=ACCOUNT_ID,
        status="pending",
    )


def webhook_sms(fixture="sms_received__v3.json", **data):
    return parse_sms_received(sms_received(fixture, **data))


def test_webhook_and_poll_of_one_sms_store_it_once(http):
    chip = ChipFactory(phone=PHONE, salvy_id=ACCOUNT_ID, status="pending")
    first, created = sms_received_record(sms=webhook_sms(), source=SmsSource.WEBHOOK)
    polled = load_fixture("salvy/sms_messages.json")["smsMessages"][2]  # the same SMS, as the list API gives it
    again, created_again = sms_received_record(
        sms=sms_from_fields(polled, account_id=ACCOUNT_ID), source=SmsSource.POLL
    )
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    stored = SmsCode.objects.get()
    assert (stored.chip_id, stored.code, stored.source, stored.origin) == (chip.pk, "123456", "webhook", "23456")
    assert ChipAlert.objects.filter(kind="sms_code").count() == 1


def test_the_salvy_account_wins_over_the_destination_number(http):
    by_account = ChipFactory(salvy_id=ACCOUNT_ID, phone="+5511912345678")
    ChipFactory(phone=PHONE)  # holds the destination number, but the account says whose SMS it is
    record, _ = sms_received_record(sms=webhook_sms(), source=SmsSource.WEBHOOK)
    assert record.chip_id == by_account.pk
    assert record.destination == PHONE


def test_a_code_opens_an_info_alert_and_tells_slack(slack, django_capture_on_commit_callbacks):
    chip = ChipFactory(phone=PHONE, salvy_id=ACCOUNT_ID, status="pending")
    with django_capture_on_commit_callbacks(execute=True):
        sms_received_record(sms=webhook_sms("sms_received__hyphen_code.json"), source=SmsSource.WEBHOOK)
    alert = ChipAlert.objects.get(chip=chip, kind="sms_code")
    assert alert.severity == "info"
    assert "944591" in alert.message and PHONE in alert.message
    assert slack == [f":envelope_with_arrow: WhatsApp code 944591 received for chip {PHONE}"]


def test_an_sms_without_code_is_kept_quietly(slack, django_capture_on_commit_callbacks):
    ChipFactory(phone=PHONE, salvy_id="5c2e9f3a-8d41-4b6e-a0f7-3e9b2d6c1f48", status="pending")
    with django_capture_on_commit_callbacks(execute=True):
        record, created = sms_received_record(sms=webhook_sms("sms_received__no_code.json"), source=SmsSource.WEBHOOK)
    assert created and record.code == ""
    assert record.text.startswith("Promocao!")
    assert not ChipAlert.objects.exists()
    assert slack == []


def test_a_code_for_a_number_we_do_not_know_is_kept_and_shown(http):
    record, created = sms_received_record(sms=webhook_sms(), source=SmsSource.WEBHOOK)
    assert created and record.chip is None and record.code == "123456"
    alert = ChipAlert.objects.get(kind="sms_code")
    assert alert.chip is None
    assert "no chip has this number" in alert.message


def test_a_code_for_an_evolution_chip_is_not_submitted_anywhere(
    http, run_tasks_inline, django_capture_on_commit_callbacks
):
    chip = ChipFactory(phone=PHONE, salvy_id=ACCOUNT_ID, status="pending")
    with django_capture_on_commit_callbacks(execute=True):
        record, _ = sms_received_record(sms=webhook_sms(), source=SmsSource.WEBHOOK)
    assert run_tasks_inline == []
    assert sms_code_submit(sms_code_id=record.pk) is False
    assert not http.calls
    assert chip.sms_codes.get().used_at is None


def test_a_cloud_api_code_is_verified_and_the_number_registered(
    cloud_chip, http, run_tasks_inline, django_capture_on_commit_callbacks
):
    verify = http.post(f"{GRAPH_URL}/{PHONE_NUMBER_ID}/verify_code").mock(return_value=graph_success())
    register = http.post(f"{GRAPH_URL}/{PHONE_NUMBER_ID}/register").mock(return_value=graph_success())
    with django_capture_on_commit_callbacks(execute=True):
        record, _ = sms_received_record(sms=webhook_sms(), source=SmsSource.WEBHOOK)
    assert run_tasks_inline == [("chips.submit_code", [record.pk])]
    assert verify.call_count == 1
    assert verify.calls.last.request.url.params["code"] == "123456"
    assert verify.calls.last.request.headers["Authorization"] == "Bearer EAAG-test-access-token"
    record.refresh_from_db()
    cloud_chip.refresh_from_db()
    assert record.used_at is not None
    pin = cloud_chip.instance_token
    assert len(pin) == 6 and pin.isdigit()  # kept (encrypted) for the next registration
    assert json.loads(register.calls.last.request.content) == {"messaging_product": "whatsapp", "pin": pin}
    assert not ChipAlert.objects.filter(kind="sms_code", resolved_at__isnull=True).exists()


def test_a_registration_that_must_wait_is_retried_without_resubmitting_the_code(cloud_chip, http):
    verify = http.post(f"{GRAPH_URL}/{PHONE_NUMBER_ID}/verify_code").mock(return_value=graph_success())
    register = http.post(f"{GRAPH_URL}/{PHONE_NUMBER_ID}/register").mock(
        side_effect=[
            graph_error(400, 133015, "Please wait a few minutes before attempting to register"),
            graph_success(),
        ]
    )
    record, _ = sms_received_record(sms=webhook_sms(), source=SmsSource.WEBHOOK)
    with pytest.raises(CodeSubmitRetry, match="registering the number"):
        sms_code_submit(sms_code_id=record.pk)
    assert SmsCode.objects.get().used_at is not None  # Meta took the code: it is spent
    pin = type(cloud_chip).objects.get(pk=cloud_chip.pk).instance_token
    assert sms_code_submit(sms_code_id=record.pk) is True
    assert (verify.call_count, register.call_count) == (1, 2)
    assert json.loads(register.calls.last.request.content)["pin"] == pin  # the same PIN both times


def test_the_task_retries_a_gateway_outage_then_succeeds(cloud_chip, http):
    verify = http.post(f"{GRAPH_URL}/{PHONE_NUMBER_ID}/verify_code").mock(
        side_effect=[graph_error(503, 2, "Service temporarily unavailable"), graph_success()]
    )
    http.post(f"{GRAPH_URL}/{PHONE_NUMBER_ID}/register").mock(return_value=graph_success())
    record, _ = sms_received_record(sms=webhook_sms(), source=SmsSource.WEBHOOK)
    result = tasks.submit_code.apply(args=[record.pk])
    assert result.get() is True
    assert verify.call_count == 2
    assert SmsCode.objects.get().used_at is not None


def test_a_refused_code_alerts_the_operator_and_stays_unused(cloud_chip, http):
    http.post(f"{GRAPH_URL}/{PHONE_NUMBER_ID}/verify_code").mock(
        return_value=graph_error(400, 136025, "(#136025) Verification code mismatch")
    )
    register = http.post(f"{GRAPH_URL}/{PHONE_NUMBER_ID}/register").mock(return_value=graph_success())
    record, _ = sms_received_record(sms=webhook_sms(), source=SmsSource.WEBHOOK)
    assert sms_code_submit(sms_code_id=record.pk) is False
    alert = ChipAlert.objects.get(kind="code_submit_failed")
    assert alert.chip_id == cloud_chip.pk and "verifying the code" in alert.message
    assert SmsCode.objects.get().used_at is None
    assert register.call_count == 0


def test_a_code_is_marked_used_once_and_its_alert_resolved(http):
    chip = ChipFactory(phone=PHONE, salvy_id=ACCOUNT_ID, status="pending")
    record, _ = sms_received_record(sms=webhook_sms(), source=SmsSource.WEBHOOK)
    assert sms_code_mark_used(sms_code_id=record.pk, by="user:ana") is True
    first_use = SmsCode.objects.get().used_at
    assert sms_code_mark_used(sms_code_id=record.pk, by="user:bia") is False
    assert SmsCode.objects.get().used_at == first_use
    assert ChipAlert.objects.get(chip=chip, kind="sms_code").resolved_at is not None
