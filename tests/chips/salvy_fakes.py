"""Salvy, Slack and gateway fakes at the httpx boundary (respx), with the payload shapes of tests/fixtures/salvy.

Import the fixtures into a test module (`from tests.chips.salvy_fakes import http, salvy, slack, ...`).
Tasks queued after commit run in this process (`Task.apply`), so a test sees the whole chain:
webhook → record → task → gateway call.
"""

from __future__ import annotations

import copy
import json
import time

import httpx
import pytest
import respx

from integrations.svix_verify import svix_sign
from tests.payloads import load_fixture

SALVY_ROOT = "https://salvy.test/api/v2"
SLACK_URL = "https://hooks.slack.test/services/T000/B000/XXXX"
EVOLUTION_URL = "http://evolution.test:8080"
GRAPH_URL = "https://graph.facebook.test/v23.0"
# The Svix docs' example secret: any whsec_ value works the same.
SVIX_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ACCOUNT_ID = "0140a8c6-3815-45b7-9e60-8e137cad845c"
PHONE = "+5511987654321"


@pytest.fixture
def http():
    """Every outbound HTTP call of the test goes through this router; an unrouted call fails the test."""
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture
def salvy(http, settings):
    """Salvy's API with a token configured; tests add the routes they need (see the helpers below)."""
    settings.SALVY_API_URL = SALVY_ROOT
    settings.SALVY_API_TOKEN = "salvy_test_0123456789"
    return http


@pytest.fixture
def slack(http, settings, monkeypatch) -> list[str]:
    """Slack's incoming webhook; returns the texts Slack received (notifications run their task inline)."""
    from chips import tasks

    settings.SLACK_WEBHOOK_URL = SLACK_URL
    received: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        received.append(json.loads(request.content)["text"])
        return httpx.Response(200, text="ok")

    http.post(SLACK_URL).mock(side_effect=answer)
    monkeypatch.setattr(tasks.notify, "apply_async", lambda args, **kwargs: tasks.notify.apply(args=args))
    return received


@pytest.fixture
def run_tasks_inline(monkeypatch):
    """chips.submit_code / chips.provision / chips.salvy_account_refresh run in this process when queued."""
    from chips import tasks

    queued: list[tuple[str, list]] = []
    for task in (tasks.submit_code, tasks.provision, tasks.salvy_account_refresh):

        def run(args, task=task, **kwargs):
            queued.append((task.name, list(args)))
            return task.apply(args=args)

        monkeypatch.setattr(task, "apply_async", run)
    return queued


# --- Salvy payloads and routes ---------------------------------------------------------------------


def account(**overrides) -> dict:
    """A v2 phone account (get/list/create answer) with fields replaced by camelCase overrides."""
    body = copy.deepcopy(load_fixture("salvy/account__active.json"))
    body.update(overrides)
    return body


def salvy_error(status: int, code: str, message: str = "") -> httpx.Response:
    return httpx.Response(status, json={"code": code, "message": message or code, "publicDetails": {}})


def route_area_codes(router, *, available: dict[int, bool] | None = None):
    body = load_fixture("salvy/area_codes.json")
    if available is not None:
        body = {"areaCodes": [{"areaCode": ddd, "available": ok} for ddd, ok in available.items()]}
    return router.get(f"{SALVY_ROOT}/virtual-phone-accounts/area-codes").mock(
        return_value=httpx.Response(200, json=body)
    )


def route_account(router, account_id: str = ACCOUNT_ID, **overrides):
    body = account(id=account_id, **overrides)
    return router.get(f"{SALVY_ROOT}/virtual-phone-accounts/{account_id}").mock(
        return_value=httpx.Response(200, json=body)
    )


def route_cancel(router, account_id: str = ACCOUNT_ID, response: httpx.Response | None = None):
    return router.delete(f"{SALVY_ROOT}/virtual-phone-accounts/{account_id}").mock(
        return_value=response or httpx.Response(204)
    )


def route_list(router, accounts: list[dict]):
    return router.get(f"{SALVY_ROOT}/virtual-phone-accounts").mock(return_value=httpx.Response(200, json=accounts))


def route_sms(router, account_id: str = ACCOUNT_ID, messages: list[dict] | None = None):
    body = load_fixture("salvy/sms_messages.json")
    if messages is not None:
        body = {"smsMessages": messages, "pagination": {"page": 1, "pageSize": 50, "totalCount": len(messages)}}
    return router.get(f"{SALVY_ROOT}/virtual-phone-accounts/{account_id}/sms-messages").mock(
        return_value=httpx.Response(200, json=body)
    )


def sms_received(fixture: str = "sms_received__v3.json", **data) -> dict:
    """An `sms.received` webhook body from the fixtures, with `data` fields replaced."""
    body = copy.deepcopy(load_fixture(f"salvy/{fixture}"))
    body["data"].update(data)
    return body


def svix_headers(body: bytes, *, msg_id: str = "msg_2vQ1AbCdEfGh", secret: str = SVIX_SECRET, at: int | None = None):
    return svix_sign(secret, msg_id, int(time.time()) if at is None else at, body)


# --- gateway answers -------------------------------------------------------------------------------


def evolution_created(instance_name: str) -> httpx.Response:
    """Evolution v2's 201 to `POST /instance/create` without a QR (`qrcode: false`)."""
    return httpx.Response(
        201,
        json={
            "instance": {
                "instanceName": instance_name,
                "instanceId": "8b0f3c7e-2d1a-4f5e-9c6b-7a8d9e0f1a2b",
                "integration": "WHATSAPP-BAILEYS",
                "webhookWaBusiness": None,
                "accessTokenWaBusiness": "",
                "status": "close",
            },
            "hash": "3F1A6D2C-7B8E-4C5D-9A0F-1E2D3C4B5A69",
            "webhook": {},
            "settings": {"rejectCall": False, "groupsIgnore": True, "readMessages": False},
        },
    )


def evolution_done(message: str) -> httpx.Response:
    return httpx.Response(200, json={"status": "SUCCESS", "error": False, "response": {"message": message}})


def graph_success() -> httpx.Response:
    return httpx.Response(200, json={"success": True})


def graph_error(status: int, code: int, message: str) -> httpx.Response:
    return httpx.Response(
        status,
        json={"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEfGhIjKl"}},
    )
