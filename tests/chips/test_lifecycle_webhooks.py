"""End to end: the gateways' real connection webhooks, POSTed to our endpoints, walk the chip lifecycle.

pending → warming on the first connection, ready → degraded on a disconnect, degraded → ready on the
reconnect, and a ban close code → banned, after which nothing is sent or routed to the chip (but what
the contact writes is still kept). Bodies come from tests/fixtures/<provider>/ (the Evolution, WAHA and
Z-API ones used here are the same captures as the shared reference payloads).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json

import pytest
import respx

from chips.lifecycle import ChipStatus
from chips.models import Chip, ChipAlert, ChipSession, ChipTransition
from chips.notifications import EVENT_ICONS
from chips.pacing import chip_for_proactive
from chips.services import chip_transition
from chips.sessions import chip_session_open
from conversations.models import Message
from conversations.outbound import outbound_deliver
from tests.chips.fleet_events import of_kind
from tests.factories import ChipFactory, ConversationFactory, OutboundMessageFactory
from tests.payloads import evolution_headers, evolution_text, load_fixture

pytestmark = pytest.mark.django_db

EVO = "http://evo.test:8080"


def status(chip) -> str:
    return Chip.objects.values_list("status", flat=True).get(pk=chip.pk)


def walk(chip) -> list[tuple[str, str]]:
    return list(
        ChipTransition.objects.filter(chip=chip).order_by("created_at", "id").values_list("from_status", "to_status")
    )


def open_disconnect_alerts(chip) -> int:
    return ChipAlert.objects.filter(chip=chip, kind="disconnected", resolved_at__isnull=True).count()


def warmed_up(chip) -> None:
    """What the health check does when the warm-up plan is done and the figures are good."""
    chip_transition(chip_id=chip.pk, to_status=ChipStatus.READY, reason="warm-up complete", triggered_by="task")


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks):
    """POST one webhook (bytes exactly as signed) and run what waits for the commit."""

    def post(path: str, raw: bytes, **headers) -> int:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(path, data=raw, content_type="application/json", **headers)
        assert response.status_code == 200, response.content
        return response.status_code

    return post


# --- Evolution --------------------------------------------------------------------------------------


@pytest.fixture
def evo_chip():
    return ChipFactory(
        status=ChipStatus.PROVISIONED,
        instance_name="acme-01",
        gateway__base_url=EVO,
        gateway__webhook_secret="evo-webhook-secret-0123456789",
    )


def evolution(evo_chip, deliver):
    def post(body: dict, **data) -> None:
        body = copy.deepcopy(body) | {"instance": "acme-01"}
        body["data"] = body["data"] | data
        deliver("/webhooks/evolution/", json.dumps(body).encode(), **evolution_headers(evo_chip.gateway.webhook_secret))

    return post


def test_evolution_connection_events_walk_the_lifecycle_and_a_ban_stops_routing(
    evo_chip, deliver, notifications, client, settings
):
    settings.PUBLIC_BASE_URL = "https://recado.example.com"
    post = evolution(evo_chip, deliver)
    opened = load_fixture("evolution/connection.update__open_v1.json")
    qr = load_fixture("evolution/qrcode.updated__pairing_v1.json")
    closed = load_fixture("evolution/connection.update__close_logged_out_v2.json")

    with respx.mock(base_url=EVO) as gateway:
        create = gateway.post("/instance/create").respond(
            201, json={"instance": {"instanceName": "acme-01", "status": "close"}, "hash": "TOKEN"}
        )
        chip_session_open(chip_id=evo_chip.pk, triggered_by="task:provision")
    webhook = json.loads(create.calls.last.request.content)["webhook"]
    assert webhook["url"] == "https://recado.example.com/webhooks/evolution/"
    assert status(evo_chip) == ChipStatus.PENDING

    post(qr)  # the gateway shows a QR
    session = ChipSession.objects.get(chip=evo_chip)
    assert session.state in ("qr", "pairing") and session.qr_code.startswith("2@")
    assert status(evo_chip) == ChipStatus.PENDING

    post(opened)  # the phone scanned it
    post(opened)  # Evolution retries: the same event again
    assert status(evo_chip) == ChipStatus.WARMING
    assert walk(evo_chip) == [("provisioned", "pending"), ("pending", "warming")]
    assert ChipTransition.objects.get(chip=evo_chip, to_status="warming").triggered_by == "webhook"
    assert Chip.objects.get(pk=evo_chip.pk).warmup_started_at is not None
    assert ChipSession.objects.get(chip=evo_chip).qr_code == ""
    assert len(of_kind(notifications, EVENT_ICONS["connected"])) == 1

    warmed_up(evo_chip)
    post(closed, statusReason=428)  # the connection dropped: not a ban
    assert status(evo_chip) == ChipStatus.DEGRADED
    assert open_disconnect_alerts(evo_chip) == 1
    assert len(of_kind(notifications, EVENT_ICONS["disconnected"])) == 1

    post(opened)  # linked again
    assert status(evo_chip) == ChipStatus.READY
    assert open_disconnect_alerts(evo_chip) == 0

    conversation = ConversationFactory(chip=evo_chip)
    post(closed, statusReason=403)  # WhatsApp locked the account
    assert status(evo_chip) == ChipStatus.BANNED
    assert ChipAlert.objects.get(chip=evo_chip, kind="banned").severity == "critical"
    assert len(of_kind(notifications, EVENT_ICONS["banned"])) == 1
    assert walk(evo_chip)[-1] == ("ready", "banned")

    # Routing stops: the reply already queued is refused, no proactive work goes to the chip...
    reply = OutboundMessageFactory(conversation=conversation)
    with respx.mock(base_url=EVO, assert_all_called=False) as gateway:
        send = gateway.post("/message/sendText/acme-01")
        outbound_deliver(conversation_id=conversation.pk)
    assert send.call_count == 0
    reply.refresh_from_db()
    assert (reply.status, reply.error) == ("failed", "chip is banned")
    assert chip_for_proactive() is None

    # ...a later "connected" cannot bring it back, and what the contact writes is still recorded.
    post(opened)
    assert status(evo_chip) == ChipStatus.BANNED
    response = client.post(
        "/webhooks/evolution/",
        data=evolution_text(instance="acme-01", message_id="3EB0AFTERBAN", text="Alô?"),
        content_type="application/json",
        **evolution_headers(evo_chip.gateway.webhook_secret),
    )
    assert response.status_code in (200, 202)
    assert Message.objects.filter(chip=evo_chip, provider_message_id="3EB0AFTERBAN").exists()


# --- WAHA -------------------------------------------------------------------------------------------


WAHA_SECRET = "waha-hmac-key-0123456789abcdef"


def waha_status(deliver, status_name: str) -> None:
    if status_name == "SCAN_QR_CODE":
        body = load_fixture("waha/session.status__scan_qr_webjs_n8n_pinned.json")
    else:
        body = copy.deepcopy(load_fixture("waha/session.status__docs_working_webjs.json"))
        body["payload"]["status"] = status_name
    body = body | {"session": "acme-01"}
    raw = json.dumps(body).encode()
    signature = hmac.new(WAHA_SECRET.encode(), raw, hashlib.sha512).hexdigest()
    deliver("/webhooks/waha/", raw, HTTP_X_WEBHOOK_HMAC=signature, HTTP_X_WEBHOOK_HMAC_ALGORITHM="sha512")


def test_waha_session_status_walks_the_lifecycle(deliver, notifications):
    chip = ChipFactory(
        status=ChipStatus.PENDING, gateway__kind="waha", gateway__webhook_secret=WAHA_SECRET, instance_name="acme-01"
    )
    waha_status(deliver, "SCAN_QR_CODE")
    assert ChipSession.objects.get(chip=chip).state == "qr"
    assert status(chip) == ChipStatus.PENDING

    waha_status(deliver, "WORKING")
    waha_status(deliver, "WORKING")
    assert status(chip) == ChipStatus.WARMING
    assert walk(chip) == [("pending", "warming")]

    warmed_up(chip)
    waha_status(deliver, "FAILED")  # WAHA gave up on the session (logged out on the phone, or worse)
    assert status(chip) == ChipStatus.DEGRADED
    assert "FAILED" in ChipSession.objects.get(chip=chip).detail
    assert open_disconnect_alerts(chip) == 1

    waha_status(deliver, "STARTING")
    assert status(chip) == ChipStatus.DEGRADED  # not connected yet
    waha_status(deliver, "WORKING")
    assert status(chip) == ChipStatus.READY
    assert open_disconnect_alerts(chip) == 0
    assert walk(chip) == [("pending", "warming"), ("warming", "ready"), ("ready", "degraded"), ("degraded", "ready")]
    assert len(of_kind(notifications, EVENT_ICONS["connected"])) == 2
    assert len(of_kind(notifications, EVENT_ICONS["disconnected"])) == 1


# --- Z-API ------------------------------------------------------------------------------------------


ZAPI_SECRET = "zapi-path-secret-0123456789abcdef"
ZAPI_INSTANCE = "3E6D0000000000000000000000000001"


def zapi(deliver, body: dict) -> None:
    raw = json.dumps(body | {"instanceId": ZAPI_INSTANCE}).encode()
    deliver(f"/webhooks/zapi/{ZAPI_SECRET}/", raw)


def test_zapi_connected_and_disconnected_callbacks_walk_the_lifecycle(deliver, notifications):
    chip = ChipFactory(
        status=ChipStatus.PENDING,
        gateway__kind="zapi",
        gateway__base_url="https://api.z-api.io",
        gateway__webhook_secret=ZAPI_SECRET,
        instance_name=ZAPI_INSTANCE,
        instance_token="F0E1D2C3B4A5968778695A4B",
    )
    connected = load_fixture("zapi/ConnectedCallback__real.json")
    disconnected = load_fixture("zapi/DisconnectedCallback__docs.json")

    zapi(deliver, connected)
    zapi(deliver, connected)
    assert status(chip) == ChipStatus.WARMING
    assert walk(chip) == [("pending", "warming")]

    warmed_up(chip)
    chip_transition(chip_id=chip.pk, to_status=ChipStatus.ACTIVE, reason="first send", triggered_by="task")
    zapi(deliver, disconnected)
    zapi(deliver, disconnected)
    assert status(chip) == ChipStatus.DEGRADED
    alert = ChipAlert.objects.get(chip=chip, kind="disconnected", resolved_at__isnull=True)
    assert "Device has been disconnected" in alert.message
    assert len(of_kind(notifications, EVENT_ICONS["disconnected"])) == 1

    zapi(deliver, connected)
    assert status(chip) == ChipStatus.READY
    assert open_disconnect_alerts(chip) == 0
