"""/webhooks/cloudapi/: Meta's GET verification, signed POSTs, multi-number bodies, statuses."""

import copy
import hashlib
import hmac
import json
import time

import pytest

from conversations.models import EarlyStatus, Lead, Message
from tests.factories import ChipFactory, OutboundMessageFactory
from tests.payloads import load_fixture

URL = "/webhooks/cloudapi/"
NUMBER = "106540352242922"
OTHER_NUMBER = "108854732190112"
APP_SECRET = "meta-app-secret-0123456789abcdef"
SENT_ID = "wamid.HBgNNTUxMTkwMDAwMDAwMxUCABEYEjQ4NkE2QjI0RjE2NjFFQzUyQQA="
pytestmark = pytest.mark.django_db


@pytest.fixture
def chip():
    return ChipFactory(
        instance_name=NUMBER,
        gateway__kind="cloudapi",
        gateway__base_url="https://graph.facebook.com/v23.0",
        gateway__webhook_secret=APP_SECRET,
        gateway__verify_token="gateway-verify-token",
    )


def sign(raw: bytes, secret: str = APP_SECRET) -> dict:
    return {"HTTP_X_HUB_SIGNATURE_256": "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()}


def raw_of(body) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body).encode()


def post(client, body, *, secret=APP_SECRET, headers=None):
    raw = raw_of(body)
    extra = sign(raw, secret) if headers is None else headers
    return client.post(URL, data=raw, content_type="application/json", **extra)


def fresh_text(message_id="wamid.NEW1", text="Oi, quero um orçamento"):
    body = copy.deepcopy(load_fixture("cloudapi/messages.text__docs_overview.json"))
    message = body["entry"][0]["changes"][0]["value"]["messages"][0]
    message.update(id=message_id, timestamp=str(int(time.time())), text={"body": text})
    return body


def stored_nothing():
    return Message.objects.count() == 0 and Lead.objects.count() == 0 and EarlyStatus.objects.count() == 0


# --- GET verification ------------------------------------------------------------------------------------


def test_handshake_with_the_gateway_verify_token_echoes_the_challenge(client, chip):
    response = client.get(
        URL, {"hub.mode": "subscribe", "hub.verify_token": "gateway-verify-token", "hub.challenge": "1158201444"}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content == b"1158201444"


def test_handshake_with_the_global_verify_token(client, settings):
    settings.CLOUDAPI_VERIFY_TOKEN = "global-verify-token"
    response = client.get(
        URL, {"hub.mode": "subscribe", "hub.verify_token": "global-verify-token", "hub.challenge": "42"}
    )
    assert (response.status_code, response.content) == (200, b"42")


@pytest.mark.parametrize(
    "query",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": "gateway-verify-token", "hub.challenge": "1"},
        {},
    ],
    ids=["wrong-token", "wrong-mode", "empty"],
)
def test_failed_handshake_is_403(client, chip, query):
    response = client.get(URL, query)
    assert response.status_code == 403
    assert "error" in response.json()


# --- signed POSTs -----------------------------------------------------------------------------------------


def test_signed_customer_message_is_queued_with_202(client, chip):
    response = post(client, fresh_text())
    assert response.status_code == 202
    assert response.json()["messages"] == 1
    message = Message.objects.get()
    assert (message.direction, message.kind, message.text, message.provider) == (
        "in",
        "text",
        "Oi, quero um orçamento",
        "cloudapi",
    )
    assert message.chip_id == chip.pk
    assert message.contact == {"phone": "+16505551234", "lid": None, "bsuid": None, "push_name": "Sheena Nelson"}


def test_duplicate_delivery_is_stored_once(client, chip):
    body = fresh_text("wamid.DUP")
    assert post(client, body).status_code == 202
    second = post(client, body)
    assert second.status_code == 200
    assert second.json()["duplicates"] == 1
    assert Message.objects.count() == 1


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_X_HUB_SIGNATURE_256": "sha256=" + "0" * 64},
        {"HTTP_X_HUB_SIGNATURE": "sha1=" + "0" * 40},
    ],
    ids=["missing", "bad-signature", "legacy-sha1-only"],
)
def test_missing_or_bad_signature_is_401_and_stores_nothing(client, chip, headers):
    response = post(client, fresh_text(), headers=headers)
    assert response.status_code == 401
    assert stored_nothing()


def test_signature_with_another_app_secret_is_401(client, chip):
    response = post(client, fresh_text(), secret="some-other-app-secret-0000000000")
    assert response.status_code == 401
    assert stored_nothing()


def test_gateway_without_app_secret_fails_closed(client):
    ChipFactory(instance_name=NUMBER, gateway__kind="cloudapi", gateway__webhook_secret="")
    response = post(client, fresh_text(), secret="")
    assert response.status_code == 401
    assert stored_nothing()


def test_unknown_phone_number_id_is_404(client, chip):
    body = fresh_text()
    body["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = "999999999999999"
    assert post(client, body).status_code == 404
    assert stored_nothing()


@pytest.mark.parametrize(
    "body",
    [
        {"entry": []},
        {"object": "whatsapp_business_account", "entry": "nope"},
        {
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "messages", "value": {"messages": []}}]}],
        },
    ],
    ids=["no-object", "entry-not-list", "no-phone-number-id"],
)
def test_malformed_body_is_400(client, chip, body):
    response = post(client, body)
    assert response.status_code == 400
    assert response.json()["error"]
    assert stored_nothing()


def test_authenticated_but_malformed_message_is_400(client, chip):
    body = fresh_text()
    del body["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    assert post(client, body).status_code == 400
    assert stored_nothing()


def test_bsuid_only_sender_is_recorded_without_phone(client, chip):
    response = post(client, load_fixture("cloudapi/messages.text__bsuid_username.json"))
    assert response.status_code == 202
    assert Message.objects.get().contact == {
        "phone": None,
        "lid": None,
        "bsuid": "user.93737...",
        "push_name": "Sheena Nelson",
    }


def test_media_message_keeps_the_media_id(client, chip):
    assert post(client, load_fixture("cloudapi/messages.image__zammad.json")).status_code == 202
    message = Message.objects.get()
    assert (message.kind, message.caption) == ("image", "My beautiful image")
    assert message.media == {"mime_type": "image/jpeg", "id": "1870770316696531"}


@pytest.mark.parametrize(
    "name",
    ["messages.group__docs", "errors.rate_limit__docs", "messages.system__user_changed_number_docs"],
)
def test_events_we_do_not_use_get_200_and_store_nothing(client, chip, name):
    response = post(client, load_fixture(f"cloudapi/{name}.json"))
    assert response.status_code == 200
    assert response.json()["ignored"]
    assert Message.objects.count() == 0


def test_out_of_band_error_reason_names_the_code(client, chip):
    response = post(client, load_fixture("cloudapi/errors.rate_limit__docs.json"))
    assert "130429" in response.json()["ignored"][0]


def test_identity_change_links_phone_and_new_bsuid(client, chip):
    response = post(client, load_fixture("cloudapi/messages.system__user_changed_user_id_docs.json"))
    assert response.status_code == 200
    lead = Lead.objects.get()
    assert (lead.phone, lead.bsuid) == ("+12195555358", "US.20572993116840372955")


# --- several numbers in one body ------------------------------------------------------------------------


def test_one_body_for_two_numbers_of_the_same_app_reaches_both_chips(client, chip):
    other = ChipFactory(instance_name=OTHER_NUMBER, gateway=chip.gateway)
    outbound = OutboundMessageFactory(
        chip=other,
        conversation__chip=other,
        provider="cloudapi",
        status="sent",
        status_rank=20,
        provider_message_id=SENT_ID,
    )
    response = post(client, load_fixture("cloudapi/multi.entries__two_numbers.json"))
    assert response.status_code == 202
    assert response.json()["messages"] == 2
    assert set(Message.objects.filter(direction="in").values_list("chip_id", flat=True)) == {chip.pk}
    outbound.refresh_from_db()
    assert outbound.status == "read"


def test_parts_for_numbers_not_on_this_gateway_are_ignored(client, chip):
    ChipFactory(instance_name=OTHER_NUMBER, gateway__kind="cloudapi", gateway__webhook_secret="another-app-0000000")
    response = post(client, load_fixture("cloudapi/multi.entries__two_numbers.json"))
    assert response.status_code == 202
    assert response.json()["ignored"] == [f"no chip {OTHER_NUMBER!r} on this gateway"]
    assert Message.objects.filter(direction="in", chip=chip).count() == 2
    assert EarlyStatus.objects.count() == 0


def test_first_part_for_an_unknown_number_is_404(client, chip):
    body = load_fixture("cloudapi/multi.entries__two_numbers.json")
    body["entry"].reverse()  # the first change is now for OTHER_NUMBER, which has no chip
    assert post(client, body).status_code == 404


# --- statuses -------------------------------------------------------------------------------------------


@pytest.fixture
def sent_message(chip):
    return OutboundMessageFactory(
        chip=chip,
        conversation__chip=chip,
        provider="cloudapi",
        status="sent",
        status_rank=20,
        provider_message_id=SENT_ID,
    )


def test_sent_then_read_without_delivered(client, chip, sent_message):
    assert post(client, load_fixture("cloudapi/statuses.read__zammad.json")).status_code == 200
    sent_message.refresh_from_db()
    assert sent_message.status == "read"


def test_late_delivered_does_not_move_read_back(client, chip, sent_message):
    read = load_fixture("cloudapi/statuses.read__zammad.json")
    delivered = copy.deepcopy(read)
    delivered["entry"][0]["changes"][0]["value"]["statuses"][0]["status"] = "delivered"
    for body in (read, delivered):
        assert post(client, body).status_code == 200
    sent_message.refresh_from_db()
    assert sent_message.status == "read"


def test_failed_outside_the_window_records_the_error(client, chip, sent_message):
    assert post(client, load_fixture("cloudapi/statuses.failed__131047_zammad.json")).status_code == 200
    sent_message.refresh_from_db()
    assert sent_message.status == "failed"
    assert sent_message.error.startswith("131047 Re-engagement message: Message failed to send because")


def test_status_before_the_send_is_known_is_kept(client, chip):
    assert post(client, load_fixture("cloudapi/statuses.read__zammad.json")).status_code == 200
    assert EarlyStatus.objects.get().status == "read"


# --- edits and deletes (numbers also used in the WhatsApp Business app) ------------------------------


def edit_of(message_id: str, caption: str, *, kind: str = "edit") -> dict:
    body = copy.deepcopy(
        load_fixture(f"cloudapi/messages.{kind}__{'image_caption_' if kind == 'edit' else ''}pywa.json")
    )
    value = body["entry"][0]["changes"][0]["value"]
    value["metadata"]["phone_number_id"] = NUMBER
    target = value["messages"][0][kind]
    target["original_message_id"] = message_id
    if kind == "edit":
        target["message"]["image"]["caption"] = caption
    return body


def test_an_edit_changes_the_stored_text_and_stores_no_new_message(client, chip):
    assert post(client, fresh_text("wamid.ORIGINAL", "Quero 2 unidades")).status_code == 202

    response = post(client, edit_of("wamid.ORIGINAL", "Quero 3 unidades"))

    assert response.status_code == 200
    message = Message.objects.get()
    assert (message.provider_message_id, message.text) == ("wamid.ORIGINAL", "Quero 3 unidades")
    assert message.edited_at is not None


def test_a_delete_flags_the_stored_message_and_stores_no_new_one(client, chip):
    assert post(client, fresh_text("wamid.ORIGINAL")).status_code == 202

    response = post(client, edit_of("wamid.ORIGINAL", "", kind="revoke"))

    assert response.status_code == 200
    message = Message.objects.get()
    assert message.revoked_at is not None and message.text == "Oi, quero um orçamento"
