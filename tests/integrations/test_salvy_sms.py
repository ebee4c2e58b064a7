"""Salvy webhook bodies and WhatsApp codes in SMS text."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime

import pytest

from integrations.salvy import ACCOUNT_EVENTS, extract_whatsapp_code, parse_account_event, parse_sms_received
from tests.payloads import load_fixture

DOCS_ID = "0140a8c6-3815-45b7-9e60-8e137cad845c"
LINE_ID = "5c2e9f3a-8d41-4b6e-a0f7-3e9b2d6c1f48"


def fixture(name: str) -> dict:
    return copy.deepcopy(load_fixture(f"salvy/{name}.json"))


# --- extract_whatsapp_code -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Your WhatsApp code: 944-591", "944591"),
        ("WhatsApp code 123 456", "123456"),
        ("Seu codigo de verificação e 123456", "123456"),
        ("<#> Seu código do WhatsApp Business é 445566", "445566"),
        ("Seu código do WhatsApp: 123-456. Não compartilhe esse código com ninguém.", "123456"),
        ("código:654321", "654321"),
        ("WhatsApp code 123\u00a0456", "123456"),
        (
            "<#> Your WhatsApp code: 123-456\nYou can also tap on this link to verify your phone: "
            "v.whatsapp.com/123456\nDon't share this code with others\n4sgLq1p5sV6",
            "123456",
        ),
    ],
)
def test_a_code_is_found_in_each_usual_form(text, code):
    assert extract_whatsapp_code(text) == code


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Chame no WhatsApp e ganhe frete grátis!",
        "Promocao! Ligue 4002-8922 e ganhe 50% de desconto",
        "WhatsApp: protocolo 12345678901",
        "Fale conosco: +5511987654321",
        "Fale conosco: 11 987 654 321",
        "Ligue 123-456-789",
        "G-123456 é seu código de verificação do Google.",
        "pedido ABC123456 enviado",
        "12345 é curto demais",
        "codes 111111 and 222222",
    ],
)
def test_no_code_is_taken_from_text_without_exactly_one(text):
    assert extract_whatsapp_code(text) == ""


# --- parse_sms_received --------------------------------------------------------------------------


def test_v2_body_reads_the_deprecated_account_id_and_salvys_detection():
    payload = fixture("sms_received__v2")

    sms = parse_sms_received(payload)

    assert sms.id == DOCS_ID
    assert sms.phone_account_id == DOCS_ID
    assert sms.received_at == datetime(2025, 9, 3, tzinfo=UTC)
    assert sms.origin == "23456"
    assert sms.destination == "+5511987654321"
    assert sms.message == "Seu codigo de verificação e 123456"
    assert sms.whatsapp_code == "123456"
    assert sms.raw == payload


def test_v3_body_with_empty_detections_falls_back_to_the_text():
    sms = parse_sms_received(fixture("sms_received__v3"))

    assert sms.phone_account_id == DOCS_ID
    assert sms.whatsapp_code == "123456"


def test_phone_account_id_wins_over_the_deprecated_field():
    payload = fixture("sms_received__v3")
    payload["data"]["virtualPhoneAccountId"] = "old-id"
    payload["data"]["phoneAccountId"] = "new-id"

    assert parse_sms_received(payload).phone_account_id == "new-id"


def test_spam_without_a_code_has_an_empty_code():
    sms = parse_sms_received(fixture("sms_received__no_code"))

    assert sms.whatsapp_code == ""
    assert sms.phone_account_id == LINE_ID
    assert sms.origin == "28888"


def test_hyphenated_code_comes_from_salvys_detection():
    sms = parse_sms_received(fixture("sms_received__hyphen_code"))

    assert sms.whatsapp_code == "944591"
    assert sms.message == "Your WhatsApp code: 944-591"
    assert sms.received_at == datetime(2025, 9, 5, 9, 12, 30, tzinfo=UTC)


def test_a_detected_code_is_normalised_to_digits():
    payload = fixture("sms_received__hyphen_code")
    payload["data"]["detections"]["whatsapp"]["verificationCode"] = "321-654"

    assert parse_sms_received(payload).whatsapp_code == "321654"


def test_salvys_detection_beats_the_text():
    payload = fixture("sms_received__v2")
    payload["data"]["message"] = "Your WhatsApp code: 111-222 (ignore 333444)"
    payload["data"]["detections"]["whatsapp"]["verificationCode"] = "111222"

    assert parse_sms_received(payload).whatsapp_code == "111222"


def test_an_sms_recognised_as_another_services_code_gives_no_whatsapp_code():
    payload = fixture("sms_received__v3")
    payload["data"]["message"] = "Seu código Google é 123456"
    payload["data"]["detections"] = {"google": {"verificationCode": "123456"}}

    assert parse_sms_received(payload).whatsapp_code == ""


def test_missing_detections_fall_back_to_the_text():
    payload = fixture("sms_received__v2")
    del payload["data"]["detections"]

    assert parse_sms_received(payload).whatsapp_code == "123456"


def test_without_received_at_the_event_timestamp_is_used():
    payload = fixture("sms_received__no_code")
    del payload["data"]["receivedAt"]

    assert parse_sms_received(payload).received_at == datetime(2025, 9, 4, 14, 20, 5, tzinfo=UTC)


def _without(key):
    def change(payload):
        del payload["data"][key]

    return change


def _set(key, value):
    def change(payload):
        payload["data"][key] = value

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda payload: payload.update(type="phone-account.blocked"), "expected a Salvy sms.received event"),
        (lambda payload: payload.pop("data"), "without a 'data' object"),
        (lambda payload: payload.update(data=["x"]), "without a 'data' object"),
        (_without("id"), "SMS without an 'id'"),
        (_set("id", 42), "SMS without an 'id'"),
        (_set("phoneAccountId", 7), "'phoneAccountId' must be a string"),
        (_without("message"), "'message' must be a string"),
        (_set("message", None), "'message' must be a string"),
        (_set("originPhoneNumber", 23456), "'originPhoneNumber' must be a string"),
        (_set("detections", ["whatsapp"]), "'detections' must be an object"),
        (_set("detections", {"whatsapp": "123456"}), "detections.whatsapp must be an object"),
        (_set("detections", {"whatsapp": {"verificationCode": ["1"]}}), "verificationCode must be a string"),
        (_set("receivedAt", "yesterday"), "'receivedAt' is not an ISO 8601 date-time"),
        (_set("receivedAt", 1756857600), "'receivedAt' must be an ISO 8601 string"),
    ],
)
def test_malformed_bodies_are_refused_with_a_clear_message(change, message):
    payload = fixture("sms_received__v3")
    change(payload)

    with pytest.raises(ValueError, match=re.escape(message)):
        parse_sms_received(payload)


def test_a_body_naming_no_account_is_refused():
    payload = fixture("sms_received__v3")
    del payload["data"]["phoneAccountId"]
    del payload["data"]["virtualPhoneAccountId"]

    with pytest.raises(ValueError, match="without 'phoneAccountId'"):
        parse_sms_received(payload)


@pytest.mark.parametrize("payload", [None, "sms.received", ["sms.received"]])
def test_a_body_that_is_not_an_object_is_refused(payload):
    with pytest.raises(ValueError, match="must be a JSON object"):
        parse_sms_received(payload)


# --- parse_account_event -------------------------------------------------------------------------


def test_blocked_event_names_the_account():
    assert parse_account_event(fixture("phone_account_blocked")) == ("phone-account.blocked", DOCS_ID)


@pytest.mark.parametrize("event_type", ACCOUNT_EVENTS)
def test_every_account_event_is_read(event_type):
    payload = fixture("phone_account_blocked")
    payload["type"] = event_type

    assert parse_account_event(payload) == (event_type, DOCS_ID)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"type": "sms.received", "data": {"phoneAccountId": "x"}}, "expected a Salvy phone-account"),
        ({"type": "phone-account.activated", "data": {"phoneAccountId": "x"}}, "got type 'phone-account.activated'"),
        ({"type": "phone-account.blocked", "data": {}}, "without 'phoneAccountId'"),
        ({"type": "phone-account.blocked"}, "without a 'data' object"),
    ],
)
def test_other_or_malformed_account_events_are_refused(payload, message):
    with pytest.raises(ValueError, match=message):
        parse_account_event(payload)
