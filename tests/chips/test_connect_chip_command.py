"""`manage.py connect_chip`: the QR or pairing code on the terminal, then waiting for the phone, with exit codes."""

from __future__ import annotations

import json
from io import StringIO

import httpx
import pytest
import respx
from django.core.management import CommandError, call_command

from chips.lifecycle import ChipStatus
from chips.management.commands import connect_chip
from chips.models import Chip, ChipSession
from tests.factories import ChipFactory
from tests.payloads import evolution_headers, load_fixture

pytestmark = pytest.mark.django_db

EVO = "http://evo.test:8080"
QR = "2@xCLTLQpXqmnR1jld2wKbVGmXchdVSFR3QHQa+6BNF8EK8VeoKUTYklFySHt0rrgknAPgwBkD7y1IIQ==,Xl787d38Gmn0wbPMtlvd47V="
PNG = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
QR_BLOCKS = ("█", "▀", "▄")


@pytest.fixture
def chip():
    return ChipFactory(
        status=ChipStatus.PROVISIONED,
        phone="+5511987654321",
        instance_name="acme-01",
        gateway__base_url=EVO,
        gateway__webhook_secret="evo-webhook-secret-0123456789",
    )


@pytest.fixture
def evo():
    with respx.mock(base_url=EVO, assert_all_called=False) as router:
        router.post("/instance/create").respond(
            201, json={"instance": {"instanceName": "acme-01", "status": "close"}, "hash": "TOKEN"}
        )
        router.get("/instance/connect/acme-01", name="connect").respond(
            200, json={"pairingCode": None, "code": QR, "base64": PNG, "count": 1}
        )
        router.get("/instance/connectionState/acme-01", name="state").respond(
            200, json={"instance": {"instanceName": "acme-01", "state": "connecting"}}
        )
        yield router


@pytest.fixture
def webhook(client, chip):
    """POST a real Evolution webhook body for the chip to our endpoint, as the gateway would."""

    def post(name, **data):
        body = load_fixture(f"evolution/{name}.json") | {"instance": "acme-01"}
        if data:
            body["data"] = body["data"] | data
        response = client.post(
            "/webhooks/evolution/",
            data=json.dumps(body),
            content_type="application/json",
            **evolution_headers(chip.gateway.webhook_secret),
        )
        assert response.status_code == 200

    return post


@pytest.fixture
def while_waiting(monkeypatch):
    """Run `actions` (one per pause of the command's wait loop), in order; then pause for nothing."""
    actions: list = []

    def pause(seconds):
        if actions:
            actions.pop(0)()

    monkeypatch.setattr(connect_chip, "pause", pause)
    return actions


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("connect_chip", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def fail(*args) -> CommandError:
    return fail_with_output(*args)[0]


def fail_with_output(*args) -> tuple[CommandError, str]:
    out = StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("connect_chip", *args, stdout=out, stderr=StringIO())
    return failure.value, out.getvalue()


def test_prints_the_qr_and_exits_when_the_connected_webhook_arrives(chip, evo, webhook, while_waiting):
    while_waiting += [lambda: None, lambda: webhook("connection.update__open_v1")]
    out, _ = run(str(chip.pk), "--interval", "0", "--check-every", "60")

    assert any(block in out for block in QR_BLOCKS)
    assert "Scan it on the phone" in out
    assert "Session: qr → connected" in out
    assert out.rstrip().endswith(f"Connected: chip {chip.phone} is warming.")
    chip.refresh_from_db()
    assert chip.status == ChipStatus.WARMING


def test_finds_the_chip_by_its_phone_written_loosely(chip, evo, webhook, while_waiting):
    while_waiting.append(lambda: webhook("connection.update__open_v1"))
    out, _ = run("(11) 98765-4321", "--interval", "0", "--check-every", "60")
    assert "Connected" in out


def test_pairing_code_is_printed_for_the_phone_to_type(chip, evo, webhook, while_waiting):
    evo.routes["connect"].respond(200, json={"pairingCode": "V37R3T7X", "code": QR, "base64": PNG, "count": 1})
    while_waiting.append(lambda: webhook("connection.update__open_v1"))
    out, _ = run(str(chip.pk), "--pairing-phone", "+5511987654321", "--interval", "0", "--check-every", "60")
    assert "Pairing code: V37R3T7X" in out
    assert "Link with phone number" in out
    assert evo.routes["connect"].calls.last.request.url.params["number"] == "5511987654321"


def test_new_qr_sent_by_the_gateway_is_printed_again(chip, evo, webhook, while_waiting):
    while_waiting += [
        lambda: webhook("qrcode.updated__pairing_v1", qrcode={"instance": "acme-01", "code": "2@second,code"}),
        lambda: webhook("connection.update__open_v1"),
    ]
    out, _ = run(str(chip.pk), "--interval", "0", "--check-every", "60")
    assert "The gateway sent a new code:" in out
    assert out.count("Scan it on the phone") == 2


def test_gateway_state_is_polled_in_case_the_webhook_is_lost(chip, evo, while_waiting):
    Chip.objects.filter(pk=chip.pk).update(status=ChipStatus.PENDING)
    evo.routes["state"].side_effect = [
        httpx.Response(200, json={"instance": {"instanceName": "acme-01", "state": "connecting"}}),  # before
        httpx.Response(503, json={"status": 503, "error": "Service Unavailable"}),  # a hiccup while waiting
        httpx.Response(200, json={"instance": {"instanceName": "acme-01", "state": "open"}}),
    ]
    evo.get("/instance/fetchInstances").respond(
        200, json=[{"name": "acme-01", "connectionStatus": "open", "ownerJid": "5511987654321@s.whatsapp.net"}]
    )
    out, err = run(str(chip.pk), "--interval", "0", "--check-every", "0")
    assert "did not answer the state check" in err
    assert "Connected" in out
    assert ChipSession.objects.get(chip=chip).checked_at is not None


def test_already_connected_chip_needs_no_code(chip, evo):
    Chip.objects.filter(pk=chip.pk).update(status=ChipStatus.READY)
    evo.routes["state"].respond(200, json={"instance": {"instanceName": "acme-01", "state": "open"}})
    evo.get("/instance/fetchInstances").respond(
        200, json=[{"name": "acme-01", "connectionStatus": "open", "ownerJid": "5511987654321@s.whatsapp.net"}]
    )
    out, _ = run(str(chip.pk))
    assert out.strip() == f"Connected: chip {chip.phone} is ready."
    assert evo.routes["connect"].call_count == 0  # no QR asked for


def test_times_out_with_exit_status_2(chip, evo):
    error = fail(str(chip.pk), "--timeout", "0.05", "--interval", "0.01", "--check-every", "60")
    assert error.returncode == 2
    assert "timed out after 0.05 s" in str(error)
    assert "is not connected (session qr)" in str(error)


def test_ban_while_waiting_exits_with_status_3(chip, evo, webhook, while_waiting):
    while_waiting.append(lambda: webhook("connection.update__close_logged_out_v2", statusReason=403))
    error = fail(str(chip.pk), "--interval", "0", "--check-every", "60")
    assert error.returncode == 3
    assert "is now banned" in str(error)


def test_banned_chip_is_refused_with_status_3(chip):
    Chip.objects.filter(pk=chip.pk).update(status=ChipStatus.BANNED)
    error = fail(str(chip.pk))
    assert error.returncode == 3
    assert "is banned: it cannot be connected" in str(error)


def test_unknown_chip_exits_with_status_1():
    error = fail("+5511900001111")
    assert error.returncode == 1
    assert "no chip '+5511900001111'" in str(error)


def test_gateway_refusal_exits_with_status_1_and_its_reason(chip, evo):
    evo.post("/instance/create").respond(
        401, json={"status": 401, "error": "Unauthorized", "response": {"message": "Unauthorized"}}
    )
    error = fail(str(chip.pk))
    assert error.returncode == 1
    assert "gateway refused the request (401)" in str(error)
    assert Chip.objects.get(pk=chip.pk).status == ChipStatus.PROVISIONED


@pytest.mark.parametrize("kind", ["cloudapi", "whaticket"])
def test_gateway_that_pairs_numbers_elsewhere_exits_with_status_1_and_no_call(kind):
    chip = ChipFactory(status=ChipStatus.PENDING, gateway__kind=kind, gateway__base_url="https://gw.test")
    with respx.mock(assert_all_called=False) as router:
        anything = router.route()
        error = fail(str(chip.pk))
    assert anything.call_count == 0
    assert error.returncode == 1
    assert "no QR or pairing code to show" in str(error)


def test_bad_pairing_phone_exits_with_status_1(chip, evo):
    Chip.objects.filter(pk=chip.pk).update(status=ChipStatus.PENDING)
    error = fail(str(chip.pk), "--pairing-phone", "abc")
    assert error.returncode == 1
    assert "not a phone number" in str(error)


def test_picture_only_qr_points_to_the_connect_screen(while_waiting, settings):
    settings.PUBLIC_BASE_URL = "https://recado.example.com"
    zapi = ChipFactory(
        status=ChipStatus.PENDING,
        gateway__kind="zapi",
        gateway__base_url="https://api.z-api.io",
        instance_name="3C67AB64",
        instance_token="F0E1D2C3",
    )
    prefix = "/instances/3C67AB64/token/F0E1D2C3"
    with respx.mock(base_url="https://api.z-api.io") as router:
        router.get(f"{prefix}/status").respond(200, json={"connected": False, "error": "You are not connected."})
        router.get(f"{prefix}/qr-code/image").respond(200, json={"value": PNG})
        error, out = fail_with_output(str(zapi.pk), "--timeout", "0.02", "--interval", "0.01", "--check-every", "60")
    assert error.returncode == 2
    assert "only as a picture" in out
    assert f"https://recado.example.com/admin/chips/chip/{zapi.pk}/connect/" in out
    assert not any(block in out for block in QR_BLOCKS)
    assert ChipSession.objects.get(chip=zapi).qr_image == PNG
