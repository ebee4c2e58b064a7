"""POST /webhooks/zapi/<secret>/: the URL secret is the authentication, and it must never be logged."""

import copy
import json
import logging

import pytest

from chips.models import ChipSession
from conversations.models import EarlyStatus, Lead, Message
from tests.factories import ChipFactory, OutboundMessageFactory
from tests.payloads import load_fixture

pytestmark = pytest.mark.django_db

INSTANCE = "3C67AB641C8AA0412F6A2242B4E23AC7"
SECRET = "zapi-path-secret-0123456789abcdefghijklmnop"


@pytest.fixture
def chip():
    return ChipFactory(
        gateway__kind="zapi",
        gateway__base_url="https://api.z-api.io",
        gateway__webhook_secret=SECRET,
        instance_name=INSTANCE,
        instance_token="F0E1D2C3B4A5968778695A4B",
    )


def url(secret=SECRET):
    return f"/webhooks/zapi/{secret}/"


def post(client, body, secret=SECRET):
    raw = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(url(secret), data=raw, content_type="application/json")


def fixture(name, **changes):
    body = copy.deepcopy(load_fixture(f"zapi/{name}.json"))
    body["instanceId"] = INSTANCE
    body.update(changes)
    return body


def text(message_id="3EB0AAAA0000000000000001", **changes):
    return fixture("ReceivedCallback__text", messageId=message_id, **changes)


def stored_nothing():
    return Message.objects.count() == 0 and Lead.objects.count() == 0 and EarlyStatus.objects.count() == 0


def test_new_message_with_the_right_secret_is_queued_with_202(client, chip):
    response = post(client, text(text={"message": "Olá"}))
    assert response.status_code == 202
    assert (response.json()["queued"], response.json()["messages"]) == (True, 1)
    message = Message.objects.get()
    assert (message.direction, message.kind, message.text, message.status) == ("in", "text", "Olá", "received")
    assert (message.chip_id, message.provider, message.provider_message_id) == (
        chip.pk,
        "zapi",
        "3EB0AAAA0000000000000001",
    )
    assert message.contact == {"phone": "+5544999999999", "lid": "81896604192873", "bsuid": None, "push_name": "name"}


def test_duplicate_delivery_is_stored_once_and_answered_200(client, chip):
    assert post(client, text("DUP")).status_code == 202
    second = post(client, text("DUP"))
    assert second.status_code == 200
    assert second.json()["duplicates"] == 1
    assert Message.objects.count() == 1


@pytest.mark.parametrize(
    "secret",
    ["wrong-secret", SECRET[:-1], SECRET + "x", SECRET.upper(), "sécret-ção", "%00"],
    ids=["wrong", "prefix", "longer", "case", "non-ascii", "nul"],
)
def test_wrong_secret_is_401_and_stores_nothing(client, chip, secret):
    response = post(client, text(), secret=secret)
    assert response.status_code == 401
    assert response.json() == {"error": "missing or invalid webhook credentials"}
    assert stored_nothing()


def test_missing_secret_segment_has_no_route(client, chip):
    response = client.post("/webhooks/zapi/", data=json.dumps(text()), content_type="application/json")
    assert response.status_code == 404
    assert stored_nothing()


def test_gateway_without_a_webhook_secret_accepts_nothing(client):
    ChipFactory(gateway__kind="zapi", gateway__webhook_secret="", instance_name=INSTANCE)
    for secret in ("anything", "None", "null"):
        assert post(client, text(), secret=secret).status_code == 401
    assert stored_nothing()


def test_two_gateways_sharing_an_instance_name_are_told_apart_by_secret(client, chip):
    other = ChipFactory(
        gateway__kind="zapi", gateway__webhook_secret="other-gateway-secret-0123456789abcdef", instance_name=INSTANCE
    )
    assert post(client, text("ON-OTHER"), secret="other-gateway-secret-0123456789abcdef").status_code == 202
    assert Message.objects.get().chip_id == other.pk


def test_secret_of_an_evolution_gateway_does_not_open_the_zapi_endpoint(client, chip):
    evolution = ChipFactory(instance_name=INSTANCE)  # an Evolution chip with the same name
    response = post(client, text(), secret=evolution.gateway.webhook_secret)
    assert response.status_code == 401
    assert stored_nothing()


def test_unknown_instance_is_404(client, chip):
    response = post(client, text(instanceId="NOBODY"))
    assert response.status_code == 404
    assert stored_nothing()


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"", b"[1, 2]", b'{"type": "ReceivedCallback"}'],
    ids=["broken", "empty", "array", "no-instance-id"],
)
def test_malformed_body_is_400_with_json_error(client, chip, raw):
    response = post(client, raw)
    assert response.status_code == 400
    assert response.json()["error"]
    assert stored_nothing()


def test_authenticated_but_malformed_event_is_400(client, chip):
    body = text()
    del body["messageId"]
    response = post(client, body)
    assert response.status_code == 400
    assert response.json() == {"error": "ReceivedCallback has no 'messageId'"}
    assert stored_nothing()


def test_get_is_not_allowed(client, chip):
    assert client.get(url()).status_code == 405


@pytest.mark.parametrize(
    "name",
    [
        "ReceivedCallback__group_event",
        "ReceivedCallback__broadcast_list",
        "ReceivedCallback__waiting_message",
        "ReceivedCallback__notification_call_voice_real",
        "PresenceChatCallback__composing",
        "MessageStatusCallback__read_by_me",
    ],
)
def test_events_we_do_not_use_get_200_and_store_nothing(client, chip, name):
    response = post(client, fixture(name))
    assert response.status_code == 200
    assert response.json()["ignored"]
    assert stored_nothing()


def test_message_typed_on_the_phone_is_recorded_not_queued(client, chip):
    response = post(client, fixture("ReceivedCallback__text_from_me_chatlid_real"))
    assert response.status_code == 200
    message = Message.objects.get()
    assert (message.direction, message.origin, message.status, message.text) == ("out", "phone", "sent", "Boa")
    assert message.contact["lid"] == "200000000000001"


def test_echo_of_our_own_api_send_is_a_duplicate(client, chip):
    OutboundMessageFactory(
        chip=chip,
        conversation__chip=chip,
        provider="zapi",
        status="sent",
        status_rank=20,
        provider_message_id="D241XXXX732339502B68",
    )
    response = post(client, fixture("ReceivedCallback__text_from_api"))
    assert response.status_code == 200
    assert response.json()["duplicates"] == 1
    assert Message.objects.count() == 1


def test_lid_only_contact_is_stored_with_its_lid(client, chip):
    assert post(client, fixture("ReceivedCallback__text_lid_only")).status_code == 202
    assert Message.objects.get().contact == {"phone": None, "lid": "65998849469", "bsuid": None, "push_name": "name"}


def test_media_message_keeps_its_url(client, chip):
    assert post(client, fixture("ReceivedCallback__document_chatlid_real")).status_code == 202
    message = Message.objects.get()
    assert message.kind == "document"
    assert message.media == {
        "mime_type": "application/pdf",
        "file_name": "document.pdf",
        "url": "https://f004.backblazeb2.com/file/temp-file-download/instances/3E6D0000000000000000000000000001"
        "/3EB0C126E2E40E9DB35B59/AAAAAAAAAAAAAAAAAAAAAA==.pdf",
    }


def test_statuses_move_forward_one_per_id(client, chip):
    ids = load_fixture("zapi/MessageStatusCallback__played_real.json")["ids"]
    messages = [
        OutboundMessageFactory(
            chip=chip,
            conversation__chip=chip,
            provider="zapi",
            status="sent",
            status_rank=20,
            provider_message_id=message_id,
        )
        for message_id in ids
    ]
    response = post(client, fixture("MessageStatusCallback__played_real"))
    assert (response.status_code, response.json()["statuses"]) == (200, 3)
    # A late "received" must not move them back.
    late = fixture("MessageStatusCallback__received", ids=ids)
    assert post(client, late).status_code == 200
    for message in messages:
        message.refresh_from_db()
        assert message.status == "played"


def test_delivery_callback_marks_the_message_sent(client, chip):
    message = OutboundMessageFactory(
        chip=chip,
        conversation__chip=chip,
        provider="zapi",
        status="sending",
        status_rank=10,
        provider_message_id="A20DA9C0183A2D35A260F53F5D2B9244",
    )
    assert post(client, fixture("DeliveryCallback__docs")).status_code == 200
    message.refresh_from_db()
    assert message.status == "sent"


def test_edit_replaces_the_text_of_the_stored_message(client, chip):
    assert post(client, text("A20DA9C0183A2D35A260F53F5D2B9244")).status_code == 202
    response = post(client, fixture("ReceivedCallback__text_edited"))
    assert (response.status_code, response.json()["statuses"]) == (200, 1)
    message = Message.objects.get()
    assert (message.text, message.edited_at is not None) == ("teste (editado)", True)


def test_revoke_flags_the_stored_message(client, chip):
    assert post(client, text("ABCDABCD1234")).status_code == 202
    assert post(client, fixture("ReceivedCallback__notification_revoke_real")).status_code == 200
    assert Message.objects.get().revoked_at is not None


def test_connection_callbacks_update_the_session(client, chip):
    assert post(client, fixture("DisconnectedCallback__docs")).status_code == 200
    session = ChipSession.objects.get(chip=chip)
    assert session.state == "disconnected"
    assert session.last_disconnected_at is not None
    assert post(client, fixture("ConnectedCallback__real")).status_code == 200
    session.refresh_from_db()
    assert session.state == "connected"


# --- the secret is in the URL: it must not reach any log line ----------------------------------------------


def test_accepted_request_logs_nothing_with_the_secret(client, chip, caplog):
    caplog.set_level(logging.DEBUG)
    assert post(client, text()).status_code == 202
    assert caplog.records  # the webhook did log (webhook.recorded): the check below is meaningful
    assert SECRET not in caplog.text
    assert all(SECRET not in str(getattr(record, "request", "")) for record in caplog.records)


@pytest.mark.parametrize(
    ("case", "expected_status"),
    [("malformed-event", 400), ("unknown-instance", 404), ("rotated-secret", 401)],
)
def test_refused_request_logs_nothing_with_the_url_secret(client, chip, caplog, case, expected_status):
    caplog.set_level(logging.DEBUG)
    if case == "malformed-event":
        body, secret = text(message_id=""), SECRET
    elif case == "unknown-instance":
        body, secret = text(instanceId="NOBODY"), SECRET
    else:  # a gateway still posting with the secret we just rotated away from: still a credential
        body, secret = text(), "previous-" + SECRET
    response = post(client, body, secret=secret)
    assert response.status_code == expected_status
    assert secret not in caplog.text
