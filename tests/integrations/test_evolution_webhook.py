"""POST /webhooks/evolution/: authentication, answers, and nothing stored on bad input."""

import json

import pytest

from chips.models import ChipSession
from conversations.models import EarlyStatus, Lead, Message
from tests.factories import ChipFactory, OutboundMessageFactory
from tests.payloads import evolution_headers, evolution_jwt, evolution_text, load_fixture

URL = "/webhooks/evolution/"
pytestmark = pytest.mark.django_db


@pytest.fixture
def chip():
    return ChipFactory(instance_name="acme-01")


def post(client, body, **headers):
    raw = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(URL, data=raw, content_type="application/json", **headers)


def stored_nothing():
    return Message.objects.count() == 0 and Lead.objects.count() == 0 and EarlyStatus.objects.count() == 0


def test_new_message_is_queued_with_202(client, chip):
    response = post(
        client,
        evolution_text(instance="acme-01", message_id="ID1", text="Olá"),
        **evolution_headers(chip.gateway.webhook_secret),
    )
    assert response.status_code == 202
    assert response.json()["queued"] is True
    assert response.json()["messages"] == 1
    message = Message.objects.get()
    assert (message.direction, message.kind, message.text, message.status) == ("in", "text", "Olá", "received")
    assert message.provider_message_id == "ID1"
    assert message.contact["phone"] == "+5511900000001"


def test_duplicate_delivery_is_stored_once_and_answered_200(client, chip):
    body = evolution_text(instance="acme-01", message_id="DUP")
    headers = evolution_headers(chip.gateway.webhook_secret)
    assert post(client, body, **headers).status_code == 202
    second = post(client, body, **headers)
    assert second.status_code == 200
    assert second.json()["duplicates"] == 1
    assert Message.objects.count() == 1


def test_valid_jwt_is_accepted(client, chip):
    token = evolution_jwt(chip.gateway.webhook_secret)
    response = post(client, evolution_text(instance="acme-01", message_id="J1"), HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 202


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_X_WEBHOOK_TOKEN": "wrong"},
        {"HTTP_AUTHORIZATION": "Bearer not-a-jwt"},
        {"HTTP_AUTHORIZATION": "Bearer " + evolution_jwt("another-secret-of-sufficient-length-000")},
    ],
    ids=["missing", "wrong-token", "garbage-jwt", "jwt-other-key"],
)
def test_bad_or_missing_credentials_are_401_and_store_nothing(client, chip, headers):
    response = post(client, evolution_text(instance="acme-01", message_id="X1"), **headers)
    assert response.status_code == 401
    assert "error" in response.json()
    assert stored_nothing()


def test_expired_jwt_signed_with_the_right_key_is_refused(client, chip):
    token = evolution_jwt(chip.gateway.webhook_secret, issued_at=1_000_000)
    response = post(client, evolution_text(instance="acme-01", message_id="X2"), HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401
    assert stored_nothing()


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"",
        b"[1, 2]",
        b'"text"',
        "\udcff".encode("utf-8", "surrogatepass"),
        b'{"event": "messages.upsert"}',
    ],
    ids=["broken", "empty", "array", "string", "bad-utf8", "no-instance"],
)
def test_malformed_body_is_400_with_json_error(client, chip, raw):
    response = post(client, raw, **evolution_headers(chip.gateway.webhook_secret))
    assert response.status_code == 400
    assert response.json()["error"]
    assert stored_nothing()


def test_authenticated_but_malformed_event_is_400(client, chip):
    body = {"event": "messages.upsert", "instance": "acme-01", "data": {"key": {"fromMe": False}}}
    response = post(client, body, **evolution_headers(chip.gateway.webhook_secret))
    assert response.status_code == 400
    assert stored_nothing()


def test_unknown_instance_is_404(client, chip):
    response = post(
        client, evolution_text(instance="nobody", message_id="U1"), **evolution_headers(chip.gateway.webhook_secret)
    )
    assert response.status_code == 404
    assert stored_nothing()


def test_oversized_body_is_413(client, chip, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 2048
    body = evolution_text(instance="acme-01", message_id="BIG", text="x" * 4096)
    response = post(client, body, **evolution_headers(chip.gateway.webhook_secret))
    assert response.status_code == 413
    assert stored_nothing()


def test_get_is_not_allowed(client, chip):
    assert client.get(URL).status_code == 405


def test_group_message_is_ignored_with_200(client, chip):
    body = load_fixture("evolution/messages.upsert__group_v1.json") | {"instance": "acme-01"}
    response = post(client, body, **evolution_headers(chip.gateway.webhook_secret))
    assert response.status_code == 200
    assert stored_nothing()


def test_from_me_message_is_recorded_but_not_queued(client, chip):
    body = load_fixture("evolution/messages.upsert__from_me_phone_v2.json") | {"instance": "acme-01"}
    response = post(client, body, **evolution_headers(chip.gateway.webhook_secret))
    assert response.status_code == 200
    message = Message.objects.get()
    assert (message.direction, message.origin, message.status) == ("out", "phone", "sent")


def test_unused_event_gets_200_not_4xx(client, chip):
    body = {"event": "presence.update", "instance": "acme-01", "data": {"id": "x"}}
    assert post(client, body, **evolution_headers(chip.gateway.webhook_secret)).status_code == 200


def test_out_of_order_statuses_end_at_read(client, chip):
    message = OutboundMessageFactory(
        chip=chip,
        conversation__chip=chip,
        status="sent",
        status_rank=20,
        provider_message_id="A5561E44C2A63682E4295B52F484C14E",
    )
    headers = evolution_headers(chip.gateway.webhook_secret)
    for name in ("messages.update__read_v2", "messages.update__server_ack_v2"):
        body = load_fixture(f"evolution/{name}.json") | {"instance": "acme-01"}
        assert post(client, body, **headers).status_code == 200
    message.refresh_from_db()
    assert message.status == "read"


def test_status_before_the_message_is_known_is_applied_later(client, chip):
    headers = evolution_headers(chip.gateway.webhook_secret)
    read = load_fixture("evolution/messages.update__read_v2.json") | {"instance": "acme-01"}
    assert post(client, read, **headers).status_code == 200
    assert EarlyStatus.objects.filter(status="read").count() == 1

    from conversations.outbound import _record_sent

    message = OutboundMessageFactory(chip=chip, conversation__chip=chip, status="sending", status_rank=10)
    _record_sent(message, "A5561E44C2A63682E4295B52F484C14E")
    message.refresh_from_db()
    assert message.status == "read"
    assert EarlyStatus.objects.count() == 0


def test_connection_and_qr_events_update_the_session(client, chip):
    headers = evolution_headers(chip.gateway.webhook_secret)
    qr = load_fixture("evolution/qrcode.updated__pairing_v1.json") | {"instance": "acme-01"}
    assert post(client, qr, **headers).status_code == 200
    session = ChipSession.objects.get(chip=chip)
    assert session.pairing_code == "V37R3T7X"
    assert session.qr_code.startswith("2@")

    closed = load_fixture("evolution/connection.update__close_logged_out_v2.json") | {"instance": "acme-01"}
    assert post(client, closed, **headers).status_code == 200
    session.refresh_from_db()
    assert (session.state, session.disconnect_reason_code) == ("logged_out", 401)


def test_database_down_answers_503(client, chip, monkeypatch):
    from django.db import OperationalError

    import integrations.webhooks as webhooks

    def unavailable(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(webhooks, "chips_for_webhook", unavailable)
    response = post(
        client, evolution_text(instance="acme-01", message_id="D1"), **evolution_headers(chip.gateway.webhook_secret)
    )
    assert response.status_code == 503


@pytest.mark.django_db(transaction=True)  # autocommit, as in production: no savepoints in the count
def test_routing_is_cached_briefly_per_process(client, chip, settings, django_assert_num_queries):
    settings.WEBHOOK_ROUTE_CACHE_SECONDS = 60
    headers = evolution_headers(chip.gateway.webhook_secret)
    with django_assert_num_queries(2) as cold:  # the chip lookup, then the insert
        assert post(client, evolution_text(instance="acme-01", message_id="C1"), **headers).status_code == 202
    with django_assert_num_queries(1) as warm:  # the insert alone
        assert post(client, evolution_text(instance="acme-01", message_id="C2"), **headers).status_code == 202
    assert any("chips_chip" in q["sql"] for q in cold.captured_queries)
    assert not any("chips_chip" in q["sql"] for q in warm.captured_queries)


def with_instance(name, instance="acme-01"):
    return load_fixture(f"evolution/{name}.json") | {"instance": instance}


def test_media_message_is_queued_with_its_file_reference(client, chip):
    response = post(
        client,
        with_instance("messages.upsert__document_media_url_v2"),
        **evolution_headers(chip.gateway.webhook_secret),
    )
    assert response.status_code == 202
    message = Message.objects.get()
    assert (message.kind, message.caption, message.reply_to_provider_id) == (
        "document",
        "segue a fatura",
        "3EB0F1A2B3C4D5E6F70819",
    )
    assert message.media == {
        "mime_type": "application/pdf",
        "file_name": "fatura.pdf",
        "url": "https://s3.example.com/evolution/abb8e7b9/5511900000007@s.whatsapp.net/documentMessage/1785101000000_fatura.pdf",
    }


def test_location_is_stored_with_coordinates(client, chip):
    response = post(
        client, with_instance("messages.upsert__location_v2"), **evolution_headers(chip.gateway.webhook_secret)
    )
    assert response.status_code == 202
    assert Message.objects.get().location == {"latitude": -23.550519561767578, "longitude": -46.63330841064453}


def test_lid_only_message_is_recorded_and_queued(client, chip):
    response = post(
        client, with_instance("messages.upsert__text_lid_only_v2_3_6"), **evolution_headers(chip.gateway.webhook_secret)
    )
    assert response.status_code == 202
    message = Message.objects.get()
    assert (message.contact["lid"], message.contact["phone"]) == ("209876543210987", None)
    assert message.text == "Qual o preço?"


@pytest.mark.parametrize("name", ["messages.edited__text_v2_3_7", "messages.update__edit_server_ack_v2_3_7"])
def test_edit_replaces_the_text_of_the_stored_message(client, chip, name):
    headers = evolution_headers(chip.gateway.webhook_secret)
    assert post(client, with_instance("messages.upsert__image_caption_v2"), **headers).status_code == 202
    response = post(client, with_instance(name), **headers)
    assert response.status_code == 200
    message = Message.objects.get(provider_message_id="3EB0C0FFEE1234567890")
    assert (message.text, message.status) == ("minha conta de luz de julho", "received")
    assert message.edited_at is not None and message.revoked_at is None


@pytest.mark.parametrize("name", ["messages.edited__revoke_v2_3_7", "messages.delete__revoke_v2_3_7"])
def test_revoke_flags_the_stored_message_without_deleting_it(client, chip, name):
    headers = evolution_headers(chip.gateway.webhook_secret)
    assert post(client, with_instance("messages.upsert__image_caption_v2"), **headers).status_code == 202
    assert post(client, with_instance(name), **headers).status_code == 200
    message = Message.objects.get(provider_message_id="3EB0C0FFEE1234567890")
    assert message.revoked_at is not None
    assert message.caption == "minha conta de luz"


def test_send_message_echo_of_our_send_is_a_duplicate_not_a_new_row(client, chip):
    from conversations.outbound import _record_sent

    outbound = OutboundMessageFactory(chip=chip, conversation__chip=chip, status="sending", status_rank=10)
    _record_sent(outbound, "3EB0F1A2B3C4D5E6F70819")  # the id sendText answered with
    response = post(
        client, with_instance("send.message__text_v2_3_7"), **evolution_headers(chip.gateway.webhook_secret)
    )
    assert response.status_code == 200
    assert response.json()["duplicates"] == 1
    assert Message.objects.count() == 1


def test_edit_and_delete_events_need_credentials(client, chip):
    for name in ("messages.edited__text_v2_3_7", "messages.delete__revoke_v2_3_7", "send.message__text_v2_3_7"):
        response = post(client, with_instance(name), HTTP_X_WEBHOOK_TOKEN="wrong")
        assert response.status_code == 401
    assert stored_nothing()


@pytest.mark.postgres
@pytest.mark.parametrize("field", ["id", "text"])
def test_values_the_database_cannot_store_are_a_400_not_a_retry(client, chip, field):
    body = evolution_text(instance="acme-01", message_id="OK1")
    if field == "id":
        body["data"]["key"]["id"] = "X" * 500  # longer than any WhatsApp id
    else:
        body["data"]["message"]["conversation"] = "Oi\x00tudo bem"  # PostgreSQL cannot store NUL
    response = post(client, body, **evolution_headers(chip.gateway.webhook_secret))
    assert response.status_code == 400
    assert stored_nothing()
