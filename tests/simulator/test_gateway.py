"""The simulator's fake Evolution gateway, its page and its feed, through Django's test client."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model

from chips.models import ChipSession, ChipTransition
from simulator.models import SandboxDelivery
from simulator.services import SANDBOX_PHONE, sandbox_setup

SEND_TEXT = "/simulator/gateway/message/sendText/{instance}"
SEND_PRESENCE = "/simulator/gateway/chat/sendPresence/{instance}"
PAGE = "/simulator/"
FEED = "/simulator/feed"

pytestmark = pytest.mark.django_db


@pytest.fixture
def chip():
    return sandbox_setup(base_url="http://127.0.0.1:8000/simulator/gateway")


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_superuser(username="staff", email="", password="pw-for-tests-only")
    client.force_login(user)
    return client


def post(client, url, body, *, apikey=None):
    headers = {} if apikey is None else {"HTTP_APIKEY": apikey}
    raw = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(url, data=raw, content_type="application/json", **headers)


# --- sendText -----------------------------------------------------------------------------------


def test_send_text_answers_like_evolution_and_records_the_delivery(client, chip):
    response = post(
        client,
        SEND_TEXT.format(instance=chip.instance_name),
        {"number": "5511900000001", "text": "Olá! Como posso ajudar?"},
        apikey=chip.gateway.api_key,
    )

    assert response.status_code == 201
    body = response.json()
    assert body["key"]["fromMe"] is True
    assert body["key"]["remoteJid"] == "5511900000001@s.whatsapp.net"
    assert body["key"]["id"]
    assert body["message"] == {"conversation": "Olá! Como posso ajudar?"}
    assert isinstance(body["messageTimestamp"], int)
    [delivery] = SandboxDelivery.objects.all()
    assert delivery.kind == SandboxDelivery.Kind.TEXT
    assert delivery.instance_name == chip.instance_name
    assert delivery.number == "5511900000001"
    assert delivery.text == "Olá! Como posso ajudar?"
    assert delivery.provider_message_id == body["key"]["id"]


def test_send_text_accepts_the_instance_token_too(client, chip):
    chip.instance_token = "instance-token-for-tests"
    chip.save(update_fields=["instance_token"])

    response = post(
        client,
        SEND_TEXT.format(instance=chip.instance_name),
        {"number": "5511900000001", "text": "Oi"},
        apikey="instance-token-for-tests",
    )

    assert response.status_code == 201
    assert SandboxDelivery.objects.count() == 1


@pytest.mark.parametrize("apikey", [None, "", "wrong-key"], ids=["missing", "empty", "wrong"])
def test_send_text_without_the_right_apikey_is_401_and_records_nothing(client, chip, apikey):
    response = post(
        client, SEND_TEXT.format(instance=chip.instance_name), {"number": "5511900000001", "text": "Oi"}, apikey=apikey
    )

    assert response.status_code == 401
    assert response.json()["status"] == 401
    assert not SandboxDelivery.objects.exists()


def test_send_text_to_an_unknown_instance_is_404_as_evolution_answers(client, chip):
    response = post(
        client,
        SEND_TEXT.format(instance="nope"),
        {"number": "5511900000001", "text": "Oi"},
        apikey=chip.gateway.api_key,
    )

    assert response.status_code == 404
    assert response.json()["response"]["message"] == ['The "nope" instance does not exist']
    assert not SandboxDelivery.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1, 2]",
        {"number": "5511900000001"},
        {"text": "Oi"},
        {"number": 5511900000001, "text": "Oi"},
        {"number": "5511900000001", "text": None},
    ],
    ids=["not-json", "not-an-object", "no-text", "no-number", "number-not-string", "text-null"],
)
def test_send_text_with_a_malformed_body_is_400_and_records_nothing(client, chip, body):
    response = post(client, SEND_TEXT.format(instance=chip.instance_name), body, apikey=chip.gateway.api_key)

    assert response.status_code == 400
    assert response.json()["status"] == 400
    assert not SandboxDelivery.objects.exists()


def test_send_text_only_accepts_post(client, chip):
    response = client.get(SEND_TEXT.format(instance=chip.instance_name), HTTP_APIKEY=chip.gateway.api_key)

    assert response.status_code == 405


# --- sendPresence -------------------------------------------------------------------------------


def test_send_presence_records_a_presence_with_its_duration(client, chip):
    response = post(
        client,
        SEND_PRESENCE.format(instance=chip.instance_name),
        {"number": "5511900000001", "presence": "composing", "delay": 5},
        apikey=chip.gateway.api_key,
    )

    assert response.status_code == 201
    assert response.json() == {"presence": "composing"}
    [delivery] = SandboxDelivery.objects.all()
    assert delivery.kind == SandboxDelivery.Kind.PRESENCE
    assert delivery.number == "5511900000001"
    assert delivery.duration_ms == 5
    assert delivery.text == ""
    assert delivery.provider_message_id == ""


def test_send_presence_with_a_wrong_apikey_is_401(client, chip):
    response = post(
        client,
        SEND_PRESENCE.format(instance=chip.instance_name),
        {"number": "5511900000001", "presence": "composing", "delay": 5},
        apikey="wrong-key",
    )

    assert response.status_code == 401
    assert not SandboxDelivery.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        "{",
        {"number": "5511900000001"},
        {"number": "5511900000001", "delay": "5"},
        {"number": "5511900000001", "delay": -5},
        {"number": "5511900000001", "delay": True},
    ],
    ids=["not-json", "no-delay", "delay-not-int", "delay-negative", "delay-bool"],
)
def test_send_presence_with_a_malformed_body_is_400(client, chip, body):
    response = post(client, SEND_PRESENCE.format(instance=chip.instance_name), body, apikey=chip.gateway.api_key)

    assert response.status_code == 400
    assert not SandboxDelivery.objects.exists()


# --- The page -----------------------------------------------------------------------------------


def test_page_redirects_an_anonymous_user_to_the_admin_login(client, chip):
    response = client.get(PAGE)

    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")
    assert "next=/simulator/" in response.url


def test_page_refuses_a_logged_in_non_staff_user(client, chip):
    user = get_user_model().objects.create_user(username="customer", password="pw-for-tests-only")
    client.force_login(user)

    response = client.get(PAGE)

    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")


def test_page_shows_the_sandbox_chip_to_staff(staff_client, chip):
    response = staff_client.get(PAGE)

    assert response.status_code == 200
    html = response.content.decode()
    assert SANDBOX_PHONE in html
    assert chip.instance_name in html
    assert 'id="composer"' in html
    assert "No sandbox chip yet" not in html
    # The page signs its webhooks with the sandbox gateway's token.
    assert json.dumps(chip.gateway.webhook_secret) in html


def test_page_without_a_sandbox_chip_shows_the_setup_notice(staff_client):
    response = staff_client.get(PAGE)

    assert response.status_code == 200
    html = response.content.decode()
    assert "No sandbox chip yet" in html
    assert "setup_sandbox" in html
    assert 'id="composer"' not in html


# --- The feed -----------------------------------------------------------------------------------


def _deliveries(chip):
    from simulator.services import sandbox_record

    return [
        sandbox_record(instance_name=chip.instance_name, number="5511900000001", kind="presence", duration_ms=5),
        sandbox_record(instance_name=chip.instance_name, number="5511900000001", kind="text", text="Oi Maria"),
        sandbox_record(instance_name=chip.instance_name, number="5511900000002", kind="text", text="Oi João"),
        sandbox_record(instance_name=chip.instance_name, number="5511900000001", kind="text", text="Qual seu nome?"),
    ]


def test_feed_needs_staff(client, chip):
    response = client.get(FEED)

    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")


def test_feed_lists_every_delivery_by_default(staff_client, chip):
    deliveries = _deliveries(chip)

    response = staff_client.get(FEED)

    assert response.status_code == 200
    rows = response.json()["deliveries"]
    assert [row["id"] for row in rows] == [d.pk for d in deliveries]
    assert rows[0]["kind"] == "presence"
    assert rows[0]["duration_ms"] == 5
    assert rows[1] == {
        "id": deliveries[1].pk,
        "kind": "text",
        "text": "Oi Maria",
        "duration_ms": 0,
        "at": rows[1]["at"],
    }


def test_feed_filters_by_after_and_number(staff_client, chip):
    deliveries = _deliveries(chip)

    after = staff_client.get(FEED, {"after": deliveries[1].pk}).json()["deliveries"]
    number = staff_client.get(FEED, {"number": "+5511900000001"}).json()["deliveries"]
    both = staff_client.get(FEED, {"after": deliveries[0].pk, "number": "5511900000001"}).json()["deliveries"]

    assert [row["text"] for row in after] == ["Oi João", "Qual seu nome?"]
    assert [row["id"] for row in number] == [deliveries[0].pk, deliveries[1].pk, deliveries[3].pk]
    assert [row["text"] for row in both] == ["Oi Maria", "Qual seu nome?"]
    assert staff_client.get(FEED, {"after": deliveries[3].pk}).json() == {"deliveries": []}


@pytest.mark.parametrize("after", ["abc", "1.5", ""])
def test_feed_rejects_a_non_integer_after(staff_client, chip, after):
    response = staff_client.get(FEED, {"after": after})

    assert response.status_code == 400
    assert "after" in response.json()["error"]


def test_page_starts_after_the_last_delivery_so_nothing_old_is_replayed(admin_client, chip):
    old = SandboxDelivery.objects.create(instance_name="sandbox", number="5511900000001", kind="text", text="old")
    page = admin_client.get("/simulator/").content.decode()
    assert f"let lastDelivery = {old.pk};" in page


def test_the_sandbox_chip_starts_connected_and_warming(chip):
    assert chip.status == "warming" and chip.warmup_started_at is not None
    assert ChipSession.objects.get(chip=chip).state == "connected"
    assert list(ChipTransition.objects.filter(chip=chip).order_by("id").values_list("to_status", flat=True)) == [
        "pending",
        "warming",
    ]
