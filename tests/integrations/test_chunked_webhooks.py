"""Webhook bodies sent with `Transfer-Encoding: chunked` (no Content-Length) are read like any other.

Senders that stream their JSON (Node's `http.request` without a length, Go's client with an unknown
length) send chunks. The WSGI server removes the framing; the request then has no Content-Length,
which Django alone reads as an empty body. Posted through the production entry point.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json

import pytest

from conversations.models import Lead, Message
from tests.factories import ChipFactory
from tests.payloads import evolution_headers, evolution_text, load_fixture

pytestmark = pytest.mark.django_db

CHUNKED = {"CONTENT_LENGTH": "", "HTTP_TRANSFER_ENCODING": "chunked"}


def test_a_chunked_evolution_message_is_stored(wsgi_client):
    chip = ChipFactory(instance_name="acme-01")
    raw = json.dumps(evolution_text(instance="acme-01", message_id="CHUNK1", text="Olá")).encode()

    response = wsgi_client.post(
        "/webhooks/evolution/", raw, **evolution_headers(chip.gateway.webhook_secret), **CHUNKED
    )

    assert response.status_code == 202
    assert Message.objects.get().text == "Olá"


def test_a_chunked_waha_body_is_the_one_its_signature_covers(wsgi_client):
    chip = ChipFactory(instance_name="acme-01", gateway__kind="waha", gateway__base_url="http://waha.test:3000")
    raw = json.dumps(copy.deepcopy(load_fixture("waha/message__noweb_lid_remotejidalt.json"))).encode()
    signature = hmac.new(chip.gateway.webhook_secret.encode(), raw, hashlib.sha512).hexdigest()

    response = wsgi_client.post("/webhooks/waha/", raw, HTTP_X_WEBHOOK_HMAC=signature, **CHUNKED)

    assert response.status_code == 202
    assert Message.objects.get().provider_message_id == "3A5C0FFEE0BADF00D123"


def test_a_chunked_body_over_the_limit_is_413_and_stores_nothing(wsgi_client, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 2048
    chip = ChipFactory(instance_name="acme-01")
    raw = json.dumps(evolution_text(instance="acme-01", message_id="CHUNK2", text="x" * 4096)).encode()

    response = wsgi_client.post(
        "/webhooks/evolution/", raw, **evolution_headers(chip.gateway.webhook_secret), **CHUNKED
    )

    assert response.status_code == 413
    assert Message.objects.count() == 0 and Lead.objects.count() == 0


def test_a_body_without_length_or_chunks_is_not_read(wsgi_client):
    # Without either, the body's end is unknown: reading on could wait for a client that sent nothing.
    chip = ChipFactory(instance_name="acme-01")
    raw = json.dumps(evolution_text(instance="acme-01", message_id="CHUNK3")).encode()

    response = wsgi_client.post(
        "/webhooks/evolution/", raw, CONTENT_LENGTH="", **evolution_headers(chip.gateway.webhook_secret)
    )

    assert response.status_code == 400
    assert Message.objects.count() == 0
