"""Svix signatures as Salvy sends them, checked with the real `svix` package."""

from __future__ import annotations

import base64
import json
import time

import pytest
from django.test import RequestFactory

from integrations.svix_verify import SecretInvalid, SignatureInvalid, svix_sign, verify_svix
from tests.payloads import load_fixture

SECRET = "whsec_" + base64.b64encode(b"recado-tests-svix-secret-32bytes").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"someone-else-svix-secret-32bytes").decode()
BODY = json.dumps(load_fixture("salvy/sms_received__hyphen_code.json")).encode()

# The Svix docs' own example (integrations.md §2.2): checks our signing against an outside reference.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def signed(body: bytes = BODY, *, secret: str = SECRET, at: int | None = None) -> dict[str, str]:
    return svix_sign(secret, "msg_2a7b", int(time.time()) if at is None else at, body)


def test_sign_matches_the_svix_docs_example():
    headers = svix_sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY)

    assert headers == {"svix-id": VECTOR_ID, "svix-timestamp": "1614265330", "svix-signature": VECTOR_SIGNATURE}


def test_a_valid_signature_passes():
    assert verify_svix(SECRET, signed(), BODY) is None


def test_header_names_are_matched_in_any_case():
    headers = {name.upper(): value for name, value in signed().items()}

    verify_svix(SECRET, headers, BODY)


def test_djangos_request_headers_are_accepted():
    headers = signed()
    request = RequestFactory().post(
        "/webhooks/salvy/",
        data=BODY,
        content_type="application/json",
        HTTP_SVIX_ID=headers["svix-id"],
        HTTP_SVIX_TIMESTAMP=headers["svix-timestamp"],
        HTTP_SVIX_SIGNATURE=headers["svix-signature"],
    )

    verify_svix(SECRET, request.headers, request.body)


def test_standard_webhooks_header_names_are_accepted():
    headers = {name.replace("svix-", "webhook-"): value for name, value in signed().items()}

    verify_svix(SECRET, headers, BODY)


def test_any_one_matching_signature_passes_during_secret_rotation():
    headers = signed()
    old = signed(secret=OTHER_SECRET)["svix-signature"]
    headers["svix-signature"] = f"{old} {headers['svix-signature']}"

    verify_svix(SECRET, headers, BODY)


def test_a_wrong_secret_is_rejected():
    with pytest.raises(SignatureInvalid, match="No matching signature found"):
        verify_svix(SECRET, signed(secret=OTHER_SECRET), BODY)


def test_a_tampered_body_is_rejected():
    tampered = BODY.replace(b"944591", b"111111")

    with pytest.raises(SignatureInvalid, match="No matching signature found"):
        verify_svix(SECRET, signed(), tampered)


def test_reserialised_json_is_rejected():
    reserialised = json.dumps(json.loads(BODY), indent=2).encode()

    with pytest.raises(SignatureInvalid):
        verify_svix(SECRET, signed(), reserialised)


def test_a_stale_timestamp_is_rejected():
    stale = int(time.time()) - 6 * 60

    with pytest.raises(SignatureInvalid, match="too old"):
        verify_svix(SECRET, signed(at=stale), BODY)


def test_the_docs_example_is_rejected_as_a_replay():
    headers = svix_sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY)

    with pytest.raises(SignatureInvalid, match="too old"):
        verify_svix(VECTOR_SECRET, headers, VECTOR_BODY)


def test_a_timestamp_from_the_future_is_rejected():
    with pytest.raises(SignatureInvalid, match="too new"):
        verify_svix(SECRET, signed(at=int(time.time()) + 6 * 60), BODY)


def test_an_unreadable_timestamp_is_rejected():
    headers = {**signed(), "svix-timestamp": "yesterday"}

    with pytest.raises(SignatureInvalid, match="Invalid Signature Headers"):
        verify_svix(SECRET, headers, BODY)


@pytest.mark.parametrize("signature", ["v1a", "garbage", "v1,abc v1b"])
def test_a_malformed_signature_header_is_rejected(signature):
    headers = {**signed(), "svix-signature": signature}

    with pytest.raises(SignatureInvalid, match="malformed Svix signature"):
        verify_svix(SECRET, headers, BODY)


@pytest.mark.parametrize("missing", ["svix-id", "svix-timestamp", "svix-signature"])
def test_a_missing_header_is_rejected_by_name(missing):
    headers = signed()
    del headers[missing]

    with pytest.raises(SignatureInvalid, match=f"missing Svix headers: {missing}"):
        verify_svix(SECRET, headers, BODY)


def test_no_headers_at_all_are_rejected():
    with pytest.raises(SignatureInvalid, match="svix-id, svix-timestamp, svix-signature"):
        verify_svix(SECRET, {}, BODY)


def test_a_body_that_is_not_utf8_is_rejected():
    with pytest.raises(SignatureInvalid):
        verify_svix(SECRET, signed(), b"\xff\xfe{}")


@pytest.mark.parametrize("secret", ["", "whsec_"])
def test_an_empty_secret_fails_closed(secret):
    with pytest.raises(SecretInvalid, match="empty or not a valid whsec_ secret") as caught:
        verify_svix(secret, signed(), BODY)
    assert isinstance(caught.value, SignatureInvalid)
