"""POST /webhooks/waha/: HMAC-SHA512 authentication, routing by session, and WAHA's duplicate deliveries."""

import copy
import hashlib
import hmac
import json

import pytest

from chips.models import ChipSession
from conversations.models import EarlyStatus, Lead, Message
from integrations.providers.base import GatewayConfig, WebhookRequest
from integrations.providers.waha import WahaProvider
from tests.factories import ChipFactory, OutboundMessageFactory
from tests.payloads import load_fixture

URL = "/webhooks/waha/"

# The worked example of waha-docs content/docs/how-to/events/index.md ("HMAC authentication").
DOCS_BODY = b'{"event":"message","session":"default","engine":"WEBJS"}'
DOCS_KEY = "my-secret-key"
DOCS_HMAC = (
    "208f8a55dde9e05519e898b10b89bf0d0b3b0fdf11fdbf09b6b90476301b98d8"
    "097c462b2b17a6ce93b6b47a136cf2e78a33a63f6752c2c1631777076153fa89"
)


def signed(raw: bytes, secret: str) -> dict:
    return {
        "HTTP_X_WEBHOOK_HMAC": hmac.new(secret.encode(), raw, hashlib.sha512).hexdigest(),
        "HTTP_X_WEBHOOK_HMAC_ALGORITHM": "sha512",
    }


def test_docs_hmac_vector():
    assert hmac.new(DOCS_KEY.encode(), DOCS_BODY, hashlib.sha512).hexdigest() == DOCS_HMAC
    provider = WahaProvider(GatewayConfig(kind="waha", base_url="http://waha.test", webhook_secret=DOCS_KEY))
    headers = {"X-Webhook-Hmac": DOCS_HMAC, "X-Webhook-Hmac-Algorithm": "sha512"}
    assert provider.authenticate(WebhookRequest(headers=headers, body=DOCS_BODY)) is True
    # Any change to the bytes (even re-serialized JSON with spaces) breaks the signature.
    respaced = json.dumps(json.loads(DOCS_BODY)).encode()
    assert provider.authenticate(WebhookRequest(headers=headers, body=respaced)) is False
    # Header names are case-insensitive; an uppercase hex digest is the same digest.
    lowered = {"x-webhook-hmac": DOCS_HMAC.upper()}
    assert provider.authenticate(WebhookRequest(headers=lowered, body=DOCS_BODY)) is True


def test_gateway_without_secret_accepts_nothing():
    provider = WahaProvider(GatewayConfig(kind="waha", base_url="http://waha.test", webhook_secret=""))
    empty_key_hmac = hmac.new(b"", DOCS_BODY, hashlib.sha512).hexdigest()
    assert provider.authenticate(WebhookRequest(headers={"X-Webhook-Hmac": empty_key_hmac}, body=DOCS_BODY)) is False


def test_other_algorithm_is_refused():
    provider = WahaProvider(GatewayConfig(kind="waha", base_url="http://waha.test", webhook_secret=DOCS_KEY))
    headers = {"X-Webhook-Hmac": DOCS_HMAC, "X-Webhook-Hmac-Algorithm": "sha256"}
    assert provider.authenticate(WebhookRequest(headers=headers, body=DOCS_BODY)) is False


@pytest.fixture
def chip(db):
    return ChipFactory(instance_name="acme-01", gateway__kind="waha", gateway__base_url="http://waha.test:3000")


def post(client, body, secret=None, **headers):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    if secret is not None:
        headers = {**signed(raw, secret), **headers}
    return client.post(URL, data=raw, content_type="application/json", **headers)


def stored_nothing():
    return Message.objects.count() == 0 and Lead.objects.count() == 0 and EarlyStatus.objects.count() == 0


def lid_message(event="message"):
    body = copy.deepcopy(load_fixture("waha/message__noweb_lid_remotejidalt.json"))
    body["event"] = event
    return body


@pytest.mark.django_db
def test_signed_message_is_queued_with_202(client, chip):
    response = post(client, lid_message(), chip.gateway.webhook_secret)
    assert response.status_code == 202
    assert response.json()["messages"] == 1
    message = Message.objects.get()
    assert (message.direction, message.kind, message.text) == ("in", "text", "Quero saber o preço")
    assert message.provider_message_id == "3A5C0FFEE0BADF00D123"
    assert message.contact["phone"] == "+5511900000005"
    assert message.contact["lid"] == "201234567890123"


@pytest.mark.django_db
def test_message_then_message_any_store_one_message(client, chip):
    secret = chip.gateway.webhook_secret
    assert post(client, lid_message("message"), secret).status_code == 202
    second = post(client, lid_message("message.any"), secret)
    assert second.status_code == 200
    assert second.json()["duplicates"] == 1
    assert Message.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_X_WEBHOOK_HMAC": "0" * 128},
        {"HTTP_X_WEBHOOK_HMAC": ""},
        {"HTTP_X_WEBHOOK_TOKEN": "anything"},
    ],
    ids=["missing", "wrong", "empty", "other-provider-header"],
)
def test_bad_or_missing_signature_is_401_and_stores_nothing(client, chip, headers):
    response = post(client, lid_message(), None, **headers)
    assert response.status_code == 401
    assert "error" in response.json()
    assert stored_nothing()


@pytest.mark.django_db
def test_signature_with_another_gateways_secret_is_401(client, chip):
    response = post(client, lid_message(), "another-secret-of-sufficient-length-0000")
    assert response.status_code == 401
    assert stored_nothing()


@pytest.mark.django_db
def test_signature_over_other_bytes_is_401(client, chip):
    raw = json.dumps(lid_message()).encode()
    tampered = raw.replace(b"Quero saber", b"Quero perder")
    assert tampered != raw
    response = client.post(
        URL, data=tampered, content_type="application/json", **signed(raw, chip.gateway.webhook_secret)
    )
    assert response.status_code == 401
    assert stored_nothing()


@pytest.mark.django_db
def test_unknown_session_is_404(client, chip):
    body = lid_message()
    body["session"] = "nobody"
    response = post(client, body, chip.gateway.webhook_secret)
    assert response.status_code == 404
    assert stored_nothing()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"[1]", b'{"event": "message", "payload": {}}'],
    ids=["broken", "array", "no-session"],
)
def test_malformed_body_is_400(client, chip, raw):
    response = post(client, raw, chip.gateway.webhook_secret)
    assert response.status_code == 400
    assert response.json()["error"]
    assert stored_nothing()


@pytest.mark.django_db
def test_signed_but_malformed_event_is_400(client, chip):
    body = {"event": "message", "session": "acme-01", "payload": {"from": "5511900000001@c.us", "body": "x"}}
    response = post(client, body, chip.gateway.webhook_secret)
    assert response.status_code == 400
    assert "id" in response.json()["error"]
    assert stored_nothing()


@pytest.mark.django_db
def test_api_echo_is_recorded_as_ours_with_200(client, chip):
    response = post(
        client,
        load_fixture("waha/message.any__noweb_fromme_api.json") | {"session": "acme-01"},
        chip.gateway.webhook_secret,
    )
    assert response.status_code == 200
    assert response.json()["recorded"] == 1
    assert Message.objects.get().direction == "out"


@pytest.mark.django_db
def test_ack_moves_our_message_forward(client, chip):
    sent = OutboundMessageFactory(
        conversation__chip=chip, provider="waha", provider_message_id="4CC5EDD64BC22EBA6D639F2AF571346C", status="sent"
    )
    body = load_fixture("waha/message.ack__docs_read_webjs.json") | {"session": "acme-01"}
    response = post(client, body, chip.gateway.webhook_secret)
    assert response.status_code == 200
    assert response.json()["statuses"] == 1
    sent.refresh_from_db()
    assert sent.status == "read"


@pytest.mark.django_db
def test_edit_and_revoke_reach_the_stored_message(client, chip):
    secret = chip.gateway.webhook_secret
    post(client, lid_message(), secret)
    edited = {
        "event": "message.edited",
        "session": "acme-01",
        "payload": {
            "id": "false_201234567890123@lid_3A5CEDITACTION",
            "editedMessageId": "3A5C0FFEE0BADF00D123",
            "body": "Quero saber o prazo",
        },
    }
    assert post(client, edited, secret).status_code == 200
    message = Message.objects.get()
    assert message.text == "Quero saber o prazo"
    assert message.edited_at is not None
    revoked = {
        "event": "message.revoked",
        "session": "acme-01",
        "payload": {
            "after": {"id": "false_201234567890123@lid_3A5CREVOKE"},
            "revokedMessageId": "3A5C0FFEE0BADF00D123",
        },
    }
    assert post(client, revoked, secret).status_code == 200
    message.refresh_from_db()
    assert message.revoked_at is not None


@pytest.mark.django_db
def test_scan_qr_code_puts_the_chip_session_in_qr(client, chip):
    body = load_fixture("waha/session.status__scan_qr_webjs_n8n_pinned.json") | {"session": "acme-01"}
    response = post(client, body, chip.gateway.webhook_secret)
    assert response.status_code == 200
    assert ChipSession.objects.get(chip=chip).state == "qr"


@pytest.mark.django_db
def test_group_message_is_200_and_ignored(client, chip):
    body = load_fixture("waha/message__noweb_group_issue1055.json") | {"session": "acme-01"}
    response = post(client, body, chip.gateway.webhook_secret)
    assert response.status_code == 200
    assert response.json()["ignored"] == ["group, broadcast, status or channel message"]
    assert stored_nothing()
