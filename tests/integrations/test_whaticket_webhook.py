"""POST /webhooks/whaticket/: the relay's HMAC + timestamp signature, routing by credentials, answers."""

import json
import time

import pytest

import integrations.providers.whaticket as whaticket
from conversations.models import EarlyStatus, Lead, Message
from tests.contract.whaticket import whaticket_headers, whaticket_signature
from tests.factories import ChipFactory
from tests.payloads import load_fixture

URL = "/webhooks/whaticket/"
SECRET = "whaticket-relay-secret-0123456789abcdef"
pytestmark = pytest.mark.django_db


@pytest.fixture
def chip():
    """A Whaticket gateway with one chip, named as the operator likes (no connection id)."""
    return ChipFactory(gateway__kind="whaticket", gateway__webhook_secret=SECRET, instance_name="whaticket-comercial")


def raw_of(body):
    return body if isinstance(body, bytes) else json.dumps(body).encode()


def post(client, body, headers):
    return client.post(URL, data=raw_of(body), content_type="application/json", **headers)


def signed(body, secret=SECRET, **kwargs):
    return whaticket_headers(raw_of(body), secret, **kwargs)


def text_body(text="Oi, quero um orçamento", message_id="3A0000000000000000A1", number="5511900000201"):
    body = load_fixture("whaticket/message__text_number.json")
    body["key"]["id"] = message_id
    body["key"]["remoteJid"] = f"{number}@s.whatsapp.net"
    body["number"] = number
    body["message"]["conversation"] = text
    return body


def stored_nothing():
    return Message.objects.count() == 0 and Lead.objects.count() == 0 and EarlyStatus.objects.count() == 0


def test_accepted_message_is_queued_with_202(client, chip):
    body = text_body()
    response = post(client, body, signed(body))
    assert response.status_code == 202, response.content
    assert response.json()["queued"] is True
    assert response.json()["messages"] == 1
    message = Message.objects.get()
    assert (message.chip_id, message.direction, message.kind, message.status) == (chip.pk, "in", "text", "received")
    assert (message.provider, message.provider_message_id) == ("whaticket", "3A0000000000000000A1")
    assert message.text == "Oi, quero um orçamento"
    assert message.contact["phone"] == "+5511900000201"


def test_duplicate_delivery_is_stored_once_and_answered_200(client, chip):
    body = text_body(message_id="3A00000000000000DUP1")
    assert post(client, body, signed(body)).status_code == 202
    again = post(client, body, signed(body))
    assert again.status_code == 200
    assert again.json()["queued"] is False
    assert again.json()["duplicates"] == 1
    assert Message.objects.count() == 1


def test_retried_delivery_of_a_body_without_id_dedupes(client, chip):
    body = load_fixture("whaticket/message__relay_minimal.json")
    headers = signed(body)
    assert post(client, body, headers).status_code == 202
    assert post(client, body, headers).status_code == 200  # the relay re-sends the same signed request
    assert Message.objects.get().provider_message_id.startswith("wt-")


@pytest.fixture
def frozen_clock(monkeypatch):
    """Our clock stopped at a known second, so ±301 s is exact whatever second the test runs in."""
    now = int(time.time())
    monkeypatch.setattr(whaticket, "_now", lambda: now)
    return now


def test_stale_timestamp_is_refused_and_nothing_stored(client, chip, frozen_clock):
    body = text_body()
    response = post(client, body, signed(body, timestamp=frozen_clock - 301))
    assert response.status_code == 401
    assert response.json()["error"]
    assert stored_nothing()


def test_future_timestamp_is_refused(client, chip, frozen_clock):
    body = text_body()
    response = post(client, body, signed(body, timestamp=frozen_clock + 301))
    assert response.status_code == 401
    assert stored_nothing()


@pytest.mark.parametrize(("offset", "status"), [(-300, 202), (300, 202), (-301, 401), (301, 401)])
def test_the_window_is_300_seconds_either_way(client, chip, frozen_clock, offset, status):
    body = text_body()
    assert post(client, body, signed(body, timestamp=frozen_clock + offset)).status_code == status


def test_a_real_clock_accepts_a_fresh_signature_and_refuses_an_old_one(client, chip):
    body = text_body()
    assert post(client, body, signed(body, timestamp=int(time.time()) - 400)).status_code == 401
    assert post(client, body, signed(body, timestamp=int(time.time()) - 290)).status_code == 202


FULLWIDTH_DIGITS = str.maketrans("0123456789", "".join(chr(0xFF10 + d) for d in range(10)))


@pytest.mark.parametrize(
    "stamp",
    [
        lambda now: "",
        lambda now: "abc",
        lambda now: f"{now}.5",
        lambda now: f"+{now}",
        lambda now: f"{now}e0",
        lambda now: str(now * 1000),  # milliseconds are not seconds: far in the future
        lambda now: str(now).translate(FULLWIDTH_DIGITS),  # int() would take these
    ],
    ids=["empty", "letters", "fraction", "plus-sign", "exponent", "milliseconds", "fullwidth-digits"],
)
def test_non_numeric_timestamp_is_refused(client, chip, frozen_clock, stamp):
    body = text_body()
    value = stamp(frozen_clock)
    headers = {"HTTP_X_TIMESTAMP": value, "HTTP_X_SIGNATURE": whaticket_signature(raw_of(body), SECRET, value)}
    assert post(client, body, headers).status_code == 401
    assert stored_nothing()


def test_wrong_signature_is_refused(client, chip):
    body = text_body()
    headers = signed(body) | {"HTTP_X_SIGNATURE": "0" * 64}
    assert post(client, body, headers).status_code == 401
    assert stored_nothing()


def test_signature_with_another_secret_is_refused(client, chip):
    body = text_body()
    assert post(client, body, signed(body, secret="another-secret-of-the-same-length-000000")).status_code == 401
    assert stored_nothing()


def test_signature_over_a_different_timestamp_is_refused(client, chip):
    body = text_body()
    now = int(time.time())
    headers = {"HTTP_X_TIMESTAMP": str(now), "HTTP_X_SIGNATURE": whaticket_signature(raw_of(body), SECRET, now - 10)}
    assert post(client, body, headers).status_code == 401
    assert stored_nothing()


def test_signature_over_a_different_body_is_refused(client, chip):
    body = text_body()
    headers = signed(body)
    tampered = text_body(text="Oi, quero um orçamento!")
    assert post(client, tampered, headers).status_code == 401
    assert stored_nothing()


@pytest.mark.parametrize("missing", ["HTTP_X_TIMESTAMP", "HTTP_X_SIGNATURE"])
def test_missing_signature_headers_are_refused(client, chip, missing):
    body = text_body()
    headers = signed(body)
    del headers[missing]
    assert post(client, body, headers).status_code == 401
    assert stored_nothing()


def test_unsigned_request_is_refused(client, chip):
    assert post(client, text_body(), {}).status_code == 401
    assert stored_nothing()


def test_sha256_prefix_and_upper_case_hex_are_tolerated(client, chip):
    body = text_body()
    headers = signed(body)
    headers["HTTP_X_SIGNATURE"] = "sha256=" + headers["HTTP_X_SIGNATURE"].upper()
    assert post(client, body, headers).status_code == 202


def test_gateway_without_a_webhook_secret_accepts_nothing(client):
    ChipFactory(gateway__kind="whaticket", gateway__webhook_secret="", instance_name="no-secret")
    body = text_body()
    assert post(client, body, signed(body, secret="")).status_code == 401
    assert stored_nothing()


# --- X-Webhook-Token ----------------------------------------------------------------------------------


@pytest.fixture
def chip_with_token():
    return ChipFactory(
        gateway__kind="whaticket",
        gateway__webhook_secret=SECRET,
        gateway__verify_token="relay-token-abc",
        instance_name="whaticket-token",
    )


@pytest.mark.parametrize(
    ("token", "status"),
    [(None, 202), ("relay-token-abc", 202), ("wrong-token", 401)],
    ids=["absent", "right", "wrong"],
)
def test_webhook_token_must_match_the_verify_token_when_present(client, chip_with_token, token, status):
    body = text_body()
    headers = signed(body) | ({"HTTP_X_WEBHOOK_TOKEN": token} if token else {})
    assert post(client, body, headers).status_code == status


def test_webhook_token_is_ignored_when_the_gateway_has_no_verify_token(client, chip):
    body = text_body()
    assert post(client, body, signed(body) | {"HTTP_X_WEBHOOK_TOKEN": "anything"}).status_code == 202


def test_webhook_token_alone_is_not_enough(client, chip_with_token):
    body = text_body()
    assert post(client, body, {"HTTP_X_WEBHOOK_TOKEN": "relay-token-abc"}).status_code == 401
    assert stored_nothing()


# --- answers ------------------------------------------------------------------------------------------


def test_missing_number_is_400_and_nothing_stored(client, chip):
    body = {"message": {"conversation": "olá"}}
    response = post(client, body, signed(body))
    assert response.status_code == 400
    assert response.json() == {"error": "payload has no number"}
    assert stored_nothing()


def test_button_reply_with_number_in_the_ticket_is_queued(client, chip):
    body = load_fixture("whaticket/message__buttons_response.json")
    response = post(client, body, signed(body))
    assert response.status_code == 202
    message = Message.objects.get()
    assert (message.kind, message.text, message.contact["phone"]) == ("interactive", "Plano Pro", "+5531900000103")
    assert message.reply_to_provider_id == "3EB0A7F19C2D4B6E8F10"


def test_group_message_is_ignored_with_200(client, chip):
    body = load_fixture("whaticket/message__group.json")
    response = post(client, body, signed(body))
    assert response.status_code == 200
    assert response.json()["queued"] is False
    assert stored_nothing()


def test_malformed_json_is_400(client, chip):
    raw = b"{not json"
    assert post(client, raw, whaticket_headers(raw, SECRET)).status_code == 400


def test_get_is_not_allowed(client, chip):
    assert client.get(URL).status_code == 405


# --- routing --------------------------------------------------------------------------------------------


def test_gateway_with_one_chip_needs_no_routing_field(client, chip):
    body = load_fixture("whaticket/message__image_caption.json")
    assert "whatsappId" not in body and "ticket" not in body
    response = post(client, body, signed(body))
    assert response.status_code == 202
    assert Message.objects.get().chip_id == chip.pk


def test_two_gateways_with_one_chip_each_the_signature_picks_the_chip(client):
    chip_a = ChipFactory(gateway__kind="whaticket", gateway__webhook_secret="secret-of-gateway-a-0123456789abcdef")
    chip_b = ChipFactory(gateway__kind="whaticket", gateway__webhook_secret="secret-of-gateway-b-0123456789abcdef")
    body = text_body(message_id="3A000000000000000B01")
    response = post(client, body, signed(body, secret="secret-of-gateway-b-0123456789abcdef"))
    assert response.status_code == 202
    assert Message.objects.get().chip_id == chip_b.pk

    other = text_body(message_id="3A000000000000000A01")
    assert post(client, other, signed(other, secret="secret-of-gateway-a-0123456789abcdef")).status_code == 202
    assert Message.objects.get(provider_message_id="3A000000000000000A01").chip_id == chip_a.pk


def test_body_naming_a_connection_goes_to_that_chip(client):
    ChipFactory(gateway__kind="whaticket", gateway__webhook_secret=SECRET, instance_name="2")
    chip_3 = ChipFactory(gateway__kind="whaticket", gateway__webhook_secret=SECRET, instance_name="3")
    body = load_fixture("whaticket/message__list_response.json")  # "whatsappId": 3
    response = post(client, body, signed(body))
    assert response.status_code == 202
    assert Message.objects.get().chip_id == chip_3.pk


def test_connection_id_from_the_ticket_routes_too(client):
    chip_2 = ChipFactory(gateway__kind="whaticket", gateway__webhook_secret=SECRET, instance_name="2")
    body = load_fixture("whaticket/message__audio_ptt_ticket.json")  # ticket.whatsappId: 2
    assert post(client, body, signed(body)).status_code == 202
    assert Message.objects.get().chip_id == chip_2.pk


def test_unknown_connection_id_is_404(client, chip):
    body = load_fixture("whaticket/message__list_response.json")  # "whatsappId": 3, no such chip
    assert post(client, body, signed(body)).status_code == 404
    assert stored_nothing()
