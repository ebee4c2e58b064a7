"""Provisioning: stock check, purchase, chip record, gateway session; never an orphan number."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qs

import httpx
import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from chips import tasks
from chips.models import Chip, ChipAlert, ChipTransition, ProvisioningJob
from chips.provisioning import (
    provision_now,
    provisioning_gateway,
    provisioning_recover_stalled,
    provisioning_request,
    provisioning_run,
)
from tests.chips import salvy_fakes
from tests.chips.salvy_fakes import (
    ACCOUNT_ID,
    EVOLUTION_URL,
    PHONE,
    SALVY_ROOT,
    account,
    evolution_created,
    route_area_codes,
    route_cancel,
    route_list,
    salvy_error,
)
from tests.factories import ChipFactory, GatewayFactory
from tests.payloads import load_fixture

pytestmark = pytest.mark.django_db
http, salvy, slack, run_tasks_inline = (
    salvy_fakes.http,
    salvy_fakes.salvy,
    salvy_fakes.slack,
    salvy_fakes.run_tasks_inline,
)

INSTANCE = "recado-5511987654321"
CREATE_URL = f"{SALVY_ROOT}/virtual-phone-accounts"


@pytest.fixture
def gateway():
    return GatewayFactory(name="evo-main", base_url=EVOLUTION_URL)


def route_buy(router, **overrides):
    body = account(**{"phoneNumber": PHONE, "status": "pending", "name": None, **overrides})
    return router.post(CREATE_URL).mock(return_value=httpx.Response(200, json=body))


def route_session(router, response: httpx.Response | None = None):
    return router.post(f"{EVOLUTION_URL}/instance/create").mock(return_value=response or evolution_created(INSTANCE))


def nothing_bought_or_stored(router) -> bool:
    bought = [call for call in router.calls if call.request.method == "POST" and str(call.request.url) == CREATE_URL]
    return not bought and not Chip.objects.exists()


def test_a_number_is_bought_recorded_and_its_session_opened(salvy, slack, gateway, django_capture_on_commit_callbacks):
    route_area_codes(salvy)
    buy = route_buy(salvy)
    session = route_session(salvy)
    with django_capture_on_commit_callbacks(execute=True):
        job = provision_now(ddd="11", gateway="evo-main", requested_by="user:ana")

    assert job.status == "succeeded", job.error
    chip = Chip.objects.get()
    assert (chip.phone, chip.ddd, chip.gateway, chip.instance_name) == (PHONE, "11", gateway, INSTANCE)
    assert (chip.salvy_id, chip.salvy_status, chip.status) == (ACCOUNT_ID, "pending", "pending")
    assert list(chip.transitions.order_by("id").values_list("from_status", "to_status")) == [
        ("", "provisioned"),
        ("provisioned", "pending"),
    ]
    assert (job.chip, job.phone, job.salvy_account_id, job.finished_at is not None) == (chip, PHONE, ACCOUNT_ID, True)
    assert [step["step"] for step in job.steps] == ["stock", "buy", "record", "session", "done"]
    assert json.loads(buy.calls.last.request.content) == {"areaCode": 11, "name": f"recado-job-{job.pk}"}
    webhook = json.loads(session.calls.last.request.content)["webhook"]
    assert (json.loads(session.calls.last.request.content)["instanceName"], webhook["url"]) == (
        INSTANCE,
        "http://127.0.0.1:8000/webhooks/evolution/",
    )
    assert [text for text in slack if text.startswith(":new:")] == [
        f":new: Number {PHONE} (DDD 11) provisioned on evo-main as {INSTANCE}: "
        "get a QR code on the connect screen or with connect_chip"
    ]


def test_the_name_given_is_the_label_at_salvy(salvy, gateway):
    route_area_codes(salvy)
    buy = route_buy(salvy)
    route_session(salvy)
    job = provision_now(ddd=11, name="vendas-sp-01")
    assert job.status == "succeeded", job.error
    assert json.loads(buy.calls.last.request.content)["name"] == "vendas-sp-01"


def test_an_out_of_stock_ddd_buys_nothing_and_fails_the_job(salvy, slack, gateway, django_capture_on_commit_callbacks):
    route_area_codes(salvy)  # 21 is listed as unavailable
    with django_capture_on_commit_callbacks(execute=True):
        job = provision_now(ddd="21", gateway="evo-main")
    assert (job.status, job.error) == ("failed", "no numbers left for DDD 21; pick another DDD")
    assert nothing_bought_or_stored(salvy)
    assert slack == [":x: Provisioning a DDD 21 number failed: no numbers left for DDD 21; pick another DDD"]


def test_stock_gone_between_check_and_purchase_is_a_clear_failure(salvy, gateway):
    route_area_codes(salvy)
    salvy.post(CREATE_URL).mock(return_value=httpx.Response(409, json=salvy_fixture("error__out_of_stock.json")))
    job = provision_now(ddd="11")
    assert job.status == "failed"
    assert job.error == "buying a DDD 11 number failed: no numbers left for DDD 11; pick another DDD"
    assert not Chip.objects.exists() and not job.salvy_account_id


def test_a_ddd_salvy_does_not_sell_is_refused(salvy, gateway):
    route_area_codes(salvy)
    job = provision_now(ddd="99")
    assert (job.status, job.error) == ("failed", "Salvy does not sell numbers for DDD 99")
    assert nothing_bought_or_stored(salvy)


@pytest.mark.parametrize("ddd", ["1", "011", "01", "ab", "", 7])
def test_a_malformed_ddd_is_refused_before_anything_is_stored(salvy, gateway, ddd):
    with pytest.raises(ValidationError, match="two-digit Brazilian area code"):
        provision_now(ddd=ddd)
    assert not ProvisioningJob.objects.exists()
    assert not salvy.calls


def test_a_number_that_cannot_be_recorded_is_cancelled_at_salvy(salvy, gateway):
    # Salvy sold us a number a cancelled chip of ours once had: the phone is already taken.
    old = ChipFactory(gateway=gateway, phone=PHONE, status="cancelled")
    route_area_codes(salvy)
    route_buy(salvy)
    cancel = route_cancel(salvy)
    session = route_session(salvy)
    job = provision_now(ddd="11")
    assert job.status == "failed"
    assert job.error == (
        f"could not record the bought number {PHONE}: chip #{old.pk} already has the number {PHONE} (cancelled); "
        "it was cancelled at Salvy"
    )
    assert parse_qs(cancel.calls.last.request.url.query.decode()) == {"reason": ["technical-issues"]}
    assert list(Chip.objects.all()) == [old]
    assert (job.salvy_account_id, job.phone, job.chip) == (ACCOUNT_ID, PHONE, None)
    assert [step["step"] for step in job.steps] == ["stock", "buy", "cancel", "failed"]
    assert not ChipAlert.objects.exists()
    assert session.call_count == 0


def test_a_number_neither_recorded_nor_cancelled_is_flagged_never_lost(salvy, slack, gateway):
    route_area_codes(salvy)
    route_buy(salvy, phoneNumber="not-a-number")
    route_cancel(salvy, response=salvy_error(403, "forbidden", "API key cannot cancel"))
    job = provision_now(ddd="11")
    assert job.status == "failed"
    assert "could not record it" in job.error and "nor cancel it at Salvy" in job.error
    alert = ChipAlert.objects.get(kind="salvy_orphan")
    assert alert.severity == "critical" and alert.chip is None
    assert alert.details["salvy_account_id"] == ACCOUNT_ID
    assert alert.details["phone"] == "not-a-number"
    assert alert.details["job_id"] == job.pk
    assert job.salvy_account_id == ACCOUNT_ID  # the job keeps it too
    assert not Chip.objects.exists()


def test_a_session_that_cannot_be_created_keeps_the_chip_and_fails_the_job(salvy, slack, gateway):
    route_area_codes(salvy)
    route_buy(salvy)
    route_session(
        salvy,
        httpx.Response(401, json={"status": 401, "error": "Unauthorized", "response": {"message": "Unauthorized"}}),
    )
    job = provision_now(ddd="11")
    chip = Chip.objects.get()
    assert (job.status, job.chip, chip.status) == ("failed", chip, "provisioned")
    assert job.error.startswith(f"{PHONE} was bought and recorded as chip #{chip.pk}, but the gateway session")
    alert = ChipAlert.objects.get(kind="session_open_failed")
    assert alert.chip == chip and "connect_chip" in alert.message
    assert ChipTransition.objects.filter(chip=chip).count() == 1


def test_a_purchase_whose_answer_was_lost_is_found_and_used(salvy, gateway):
    route_area_codes(salvy)
    salvy.post(CREATE_URL).mock(return_value=salvy_error(500, "unknown", "Internal error"))

    def listed(request):
        label = f"recado-job-{ProvisioningJob.objects.get().pk}"
        mine = account(phoneNumber=PHONE, status="pending", name=label, createdAt=None)
        others = salvy_fixture("account_list.json")[1:]
        return httpx.Response(200, json=[mine, *others])

    listing = salvy.get(CREATE_URL).mock(side_effect=listed)
    route_session(salvy)
    job = provision_now(ddd="11")
    assert job.status == "succeeded", job.error
    assert listing.call_count == 1
    assert Chip.objects.get().salvy_id == ACCOUNT_ID


def test_a_purchase_whose_answer_was_lost_and_cannot_be_found_is_flagged(salvy, gateway):
    route_area_codes(salvy)
    salvy.post(CREATE_URL).mock(return_value=salvy_error(500, "unknown", "Internal error"))
    route_list(salvy, salvy_fixture("account_list.json"))
    job = provision_now(ddd="11")
    assert job.status == "failed"
    assert "check the Salvy dashboard" in job.error
    alert = ChipAlert.objects.get(kind="salvy_purchase_unknown")
    assert alert.severity == "critical" and f"recado-job-{job.pk}" in alert.message
    assert not Chip.objects.exists()


def test_without_a_salvy_token_the_job_fails_clearly(salvy, gateway, settings):
    settings.SALVY_API_TOKEN = ""
    job = provision_now(ddd="11")
    assert (job.status, job.error) == ("failed", "Salvy is not configured: set SALVY_API_TOKEN")
    assert not salvy.calls


def test_a_request_is_queued_after_commit_and_run_by_the_task(
    salvy, gateway, run_tasks_inline, django_capture_on_commit_callbacks
):
    route_area_codes(salvy)
    route_buy(salvy)
    route_session(salvy)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = provisioning_request(ddd="11", gateway=gateway, requested_by="user:ana")
    assert (job.status, job.requested_by, salvy.calls.call_count) == ("queued", "user:ana", 0)
    for callback in callbacks:
        callback()
    assert run_tasks_inline == [("chips.provision", [job.pk])]
    job.refresh_from_db()
    assert job.status == "succeeded"
    assert Chip.objects.get().transitions.first().triggered_by == "user:ana"


def test_a_request_the_broker_cannot_take_fails_the_job(
    salvy, gateway, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unavailable")

    monkeypatch.setattr(tasks.provision, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        job = provisioning_request(ddd="11")
    job.refresh_from_db()
    assert job.status == "failed" and "could not be queued" in job.error


def test_a_job_already_started_is_not_run_twice(salvy, gateway):
    job = ProvisioningJob.objects.create(ddd="11", gateway=gateway, status="running")
    assert provisioning_run(job_id=job.pk).status == "running"
    assert not salvy.calls


def test_the_default_gateway_is_the_only_one_that_creates_sessions():
    evolution = GatewayFactory(name="evo-main")
    GatewayFactory(name="meta", kind="cloudapi")
    GatewayFactory(name="zapi-1", kind="zapi")
    GatewayFactory(name="evo-old", is_active=False)
    assert provisioning_gateway() == evolution


@pytest.mark.parametrize(
    ("gateways", "name", "message"),
    [
        ([], None, "no active gateway can create sessions"),
        (
            [("evo-a", "evolution"), ("evo-b", "evolution")],
            None,
            r"several gateways can take the number \(evo-a, evo-b\)",
        ),
        ([("meta", "cloudapi")], None, "no active gateway can create sessions"),
        ([("evo-a", "evolution")], "nope", "no gateway named 'nope'"),
        ([("meta", "cloudapi")], "meta", "cannot create a session for a new number"),
        ([("zapi-1", "zapi")], None, "no active gateway can create sessions"),
        ([("zapi-1", "zapi")], "zapi-1", "cannot create a session for a new number"),
    ],
)
def test_an_unusable_gateway_choice_is_refused_before_anything_is_stored(salvy, gateways, name, message):
    for gateway_name, kind in gateways:
        GatewayFactory(name=gateway_name, kind=kind)
    with pytest.raises(ValidationError, match=message):
        provision_now(ddd="11", gateway=name)
    assert not ProvisioningJob.objects.exists()
    assert not salvy.calls


def test_an_inactive_gateway_is_refused_by_name():
    GatewayFactory(name="evo-old", is_active=False)
    with pytest.raises(ValidationError, match="inactive"):
        provisioning_gateway("evo-old")


def salvy_fixture(name):
    return load_fixture(f"salvy/{name}")


# --- jobs left behind by a lost task or a dead worker -------------------------------------------------


def stalled_job(gateway, *, status="running", minutes=11, steps=(), **fields) -> ProvisioningJob:
    job = ProvisioningJob.objects.create(
        ddd="11",
        gateway=gateway,
        status=status,
        steps=[{"at": "2026-11-22T10:00:00+00:00", "step": step, "detail": ""} for step in steps],
        **fields,
    )
    # auto_now would date it now: the update dates it as long ago as the test needs.
    ProvisioningJob.objects.filter(pk=job.pk).update(updated_at=timezone.now() - timedelta(minutes=minutes))
    return job


def test_a_running_job_still_saving_steps_is_left_alone(salvy, gateway):
    job = stalled_job(gateway, minutes=2, steps=["stock"])
    assert provisioning_recover_stalled() == 0
    job.refresh_from_db()
    assert job.status == "running"
    assert not salvy.calls


def test_a_job_stopped_before_buying_fails_saying_nothing_was_bought(
    salvy, slack, gateway, django_capture_on_commit_callbacks
):
    job = stalled_job(gateway)
    with django_capture_on_commit_callbacks(execute=True):
        assert provisioning_recover_stalled() == 1
    job.refresh_from_db()
    assert job.status == "failed" and job.finished_at is not None
    assert "nothing was bought" in job.error
    assert not [call for call in salvy.calls if SALVY_ROOT in str(call.request.url)]
    assert any("nothing was bought" in text for text in slack)  # the operators are told


def test_a_job_stopped_after_recording_its_chip_keeps_the_chip(salvy, gateway):
    chip = ChipFactory(gateway=gateway, status="provisioned")
    job = stalled_job(gateway, steps=["stock", "buy", "record"], chip=chip, salvy_account_id=ACCOUNT_ID)
    provisioning_recover_stalled()
    job.refresh_from_db()
    assert job.status == "failed" and f"chip #{chip.pk}" in job.error
    assert Chip.objects.filter(pk=chip.pk).exists()
    assert not salvy.calls


def test_a_number_bought_but_not_recorded_is_cancelled_at_salvy(salvy, gateway):
    job = stalled_job(gateway, steps=["stock", "buy"], salvy_account_id=ACCOUNT_ID, phone=PHONE)
    salvy.get(f"{SALVY_ROOT}/virtual-phone-accounts/{ACCOUNT_ID}").respond(200, json=account(status="active"))
    cancel = route_cancel(salvy)
    provisioning_recover_stalled()
    job.refresh_from_db()
    assert cancel.call_count == 1
    assert parse_qs(cancel.calls.last.request.url.query.decode()) == {"reason": ["technical-issues"]}
    assert job.status == "failed" and "cancelled at Salvy" in job.error
    assert not Chip.objects.exists()


def test_a_lost_purchase_found_by_its_label_is_cancelled(salvy, gateway):
    job = stalled_job(gateway, steps=["stock"])
    label = f"recado-job-{job.pk}"
    route_list(salvy, [account(status="pending", name=label, createdAt=None)])
    cancel = route_cancel(salvy)
    provisioning_recover_stalled()
    job.refresh_from_db()
    assert cancel.call_count == 1
    assert job.status == "failed" and "cancelled at Salvy" in job.error


def test_a_purchase_that_cannot_be_traced_is_flagged_for_a_human(salvy, gateway):
    job = stalled_job(gateway, steps=["stock"])
    route_list(salvy, salvy_fixture("account_list.json"))
    provisioning_recover_stalled()
    job.refresh_from_db()
    assert job.status == "failed" and "check the Salvy dashboard" in job.error
    alert = ChipAlert.objects.get(kind="salvy_purchase_unknown")
    assert alert.severity == "critical" and f"recado-job-{job.pk}" in alert.message


def test_a_number_already_cancelled_at_salvy_is_not_cancelled_again(salvy, gateway):
    job = stalled_job(gateway, steps=["stock", "buy"], salvy_account_id=ACCOUNT_ID)
    salvy.get(f"{SALVY_ROOT}/virtual-phone-accounts/{ACCOUNT_ID}").respond(200, json=account(status="canceled"))
    provisioning_recover_stalled()
    job.refresh_from_db()
    assert job.status == "failed" and "already cancelled" in job.error
    assert [call.request.method for call in salvy.calls] == ["GET"]


def test_a_job_whose_task_was_lost_is_queued_again_once(salvy, gateway, monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.provision, "apply_async", lambda args, **kwargs: queued.append(args))
    job = stalled_job(gateway, status="queued")
    assert provisioning_recover_stalled() == 1
    assert provisioning_recover_stalled() == 0  # dated now: not queued again at the next round
    assert queued == [[job.pk]]
    job.refresh_from_db()
    assert job.status == "queued"


def test_the_periodic_task_runs_the_recovery(salvy, gateway):
    job = stalled_job(gateway)
    assert tasks.recover_provisioning() == 1
    job.refresh_from_db()
    assert job.status == "failed"
