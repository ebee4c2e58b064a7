"""Calls to Z-API: real request shapes, and the instance token kept out of errors and logs."""

import json
import logging

import httpx
import pytest
import respx

from integrations.providers.base import (
    ChipAddress,
    Contact,
    GatewayConfig,
    MediaFile,
    NotSupported,
    OutboundMedia,
    ProviderError,
    SendResult,
    StoredMedia,
)
from integrations.providers.zapi import ZapiProvider
from tests.payloads import load_fixture

BASE = "https://api.z-api.io"
INSTANCE = "3C67AB641C8AA0412F6A2242B4E23AC7"
TOKEN = "F0E1D2C3B4A5968778695A4B"
CLIENT_TOKEN = "Fa1b2c3d4e5f60718293a4b5c6d7e8f9S"
PREFIX = f"{BASE}/instances/{INSTANCE}/token/{TOKEN}"
CHIP = ChipAddress(instance_name=INSTANCE, instance_token=TOKEN, phone="+5511970000001")
CUSTOMER = Contact(phone="+5511900000001", lid="201234567890123")
SENT = load_fixture("zapi/response.send-text__docs.json")


@pytest.fixture
def provider():
    zapi = ZapiProvider(GatewayConfig(kind="zapi", base_url=BASE + "/", api_key=CLIENT_TOKEN, webhook_secret="s"))
    yield zapi
    zapi.close()


def sent_json(route, index=0):
    return json.loads(route.calls[index].request.content)


def test_send_text_posts_digits_and_message_with_client_token(provider):
    with respx.mock(assert_all_called=True) as router:
        route = router.post(f"{PREFIX}/send-text").respond(200, json=SENT)
        result = provider.send_text(CHIP, CUSTOMER, "Olá! Tudo bem?")
    assert result == SendResult(provider_message_id="D241XXXX732339502B68")
    request = route.calls[0].request
    assert request.headers["Client-Token"] == CLIENT_TOKEN
    assert request.headers["Content-Type"] == "application/json"
    assert sent_json(route) == {"phone": "5511900000001", "message": "Olá! Tudo bem?"}


def test_send_text_to_a_lid_only_contact_uses_the_lid(provider):
    with respx.mock(assert_all_called=True) as router:
        route = router.post(f"{PREFIX}/send-text").respond(200, json=SENT)
        provider.send_text(CHIP, Contact(lid="201234567890123"), "Oi")
    assert sent_json(route)["phone"] == "201234567890123@lid"


def test_without_client_token_no_header_is_sent():
    zapi = ZapiProvider(GatewayConfig(kind="zapi", base_url=BASE))
    with respx.mock(assert_all_called=True) as router:
        route = router.post(f"{PREFIX}/send-text").respond(200, json=SENT)
        zapi.send_text(CHIP, CUSTOMER, "Oi")
    assert "Client-Token" not in route.calls[0].request.headers


def test_instance_name_and_token_are_path_escaped(provider):
    chip = ChipAddress(instance_name="inst/1", instance_token="to ken")
    with respx.mock(assert_all_called=True) as router:
        route = router.post(f"{BASE}/instances/inst%2F1/token/to%20ken/send-text").respond(200, json=SENT)
        provider.send_text(chip, CUSTOMER, "Oi")
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("body", "expected"),
    [({"zaapId": "Z1", "messageId": "M1", "id": "M1"}, "M1"), ({"zaapId": "Z1", "id": "M2"}, "M2"), ({}, None)],
)
def test_provider_id_is_the_whatsapp_message_id_not_the_zaap_id(provider, body, expected):
    with respx.mock() as router:
        router.post(f"{PREFIX}/send-text").respond(200, json=body)
        assert provider.send_text(CHIP, CUSTOMER, "Oi").provider_message_id == expected


def test_non_json_answer_has_no_message_id(provider):
    with respx.mock() as router:
        router.post(f"{PREFIX}/send-text").respond(200, text="ok")
        assert provider.send_text(CHIP, CUSTOMER, "Oi").provider_message_id is None


def test_chip_without_instance_token_fails_permanently_without_calling(provider):
    with respx.mock(assert_all_called=False) as router:
        route = router.route()
        with pytest.raises(ProviderError) as caught:
            provider.send_text(ChipAddress(instance_name=INSTANCE), CUSTOMER, "Oi")
    assert caught.value.permanent is True
    assert "--instance-token" in str(caught.value)
    assert route.call_count == 0


def test_contact_without_phone_or_lid_cannot_be_sent_to(provider):
    with pytest.raises(ProviderError) as caught:
        provider.send_text(CHIP, Contact(push_name="Maria"), "Oi")
    assert caught.value.permanent is True


@pytest.mark.parametrize(
    ("media", "path", "body"),
    [
        (
            OutboundMedia(kind="image", url="https://cdn.test/a.png", caption="Tabela"),
            "send-image",
            {"phone": "5511900000001", "image": "https://cdn.test/a.png", "caption": "Tabela"},
        ),
        (
            OutboundMedia(kind="image", url="https://cdn.test/a.png"),
            "send-image",
            {"phone": "5511900000001", "image": "https://cdn.test/a.png"},
        ),
        (
            OutboundMedia(kind="document", url="https://cdn.test/files/x", file_name="Proposta.PDF", caption="Segue"),
            "send-document/pdf",
            {
                "phone": "5511900000001",
                "document": "https://cdn.test/files/x",
                "fileName": "Proposta.PDF",
                "caption": "Segue",
            },
        ),
        (
            OutboundMedia(
                kind="document", url="https://cdn.test/files/tabela.xlsx?sig=1", file_name="Tabela de preços"
            ),
            "send-document/xlsx",
            {
                "phone": "5511900000001",
                "document": "https://cdn.test/files/tabela.xlsx?sig=1",
                "fileName": "Tabela de preços",
            },
        ),
        (
            OutboundMedia(kind="document", url="https://cdn.test/files/x", mime_type="application/pdf"),
            "send-document/pdf",
            {"phone": "5511900000001", "document": "https://cdn.test/files/x"},
        ),
        (
            OutboundMedia(kind="audio", url="https://cdn.test/a.ogg", caption="ignored"),
            "send-audio",
            {"phone": "5511900000001", "audio": "https://cdn.test/a.ogg"},
        ),
        (
            OutboundMedia(kind="video", url="https://cdn.test/v.mp4", caption="Veja"),
            "send-video",
            {"phone": "5511900000001", "video": "https://cdn.test/v.mp4", "caption": "Veja"},
        ),
    ],
    ids=["image", "image-no-caption", "document-by-name", "document-by-url", "document-by-mime", "audio", "video"],
)
def test_send_media_request_shapes(provider, media, path, body):
    with respx.mock(assert_all_called=True) as router:
        route = router.post(f"{PREFIX}/{path}").respond(200, json=SENT)
        result = provider.send_media(CHIP, CUSTOMER, media)
    assert result.provider_message_id == "D241XXXX732339502B68"
    assert sent_json(route) == body
    assert route.calls[0].request.headers["Client-Token"] == CLIENT_TOKEN


@pytest.mark.parametrize(
    "media",
    [OutboundMedia(kind="document", url="https://cdn.test/files/x"), OutboundMedia(kind="sticker", url="https://x")],
    ids=["document-without-extension", "unsupported-kind"],
)
def test_media_that_cannot_be_sent_fails_permanently(provider, media):
    with respx.mock(assert_all_called=False) as router:
        route = router.route()
        with pytest.raises(ProviderError) as caught:
            provider.send_media(CHIP, CUSTOMER, media)
    assert caught.value.permanent is True
    assert route.call_count == 0


def test_mark_read_posts_each_message(provider):
    with respx.mock(assert_all_called=True) as router:
        route = router.post(f"{PREFIX}/read-message").respond(204)
        provider.mark_read(CHIP, CUSTOMER, ["3EB0A", "3EB0B"])
    assert [sent_json(route, i) for i in range(route.call_count)] == [
        {"phone": "5511900000001", "messageId": "3EB0A"},
        {"phone": "5511900000001", "messageId": "3EB0B"},
    ]
    assert route.calls[0].request.headers["Client-Token"] == CLIENT_TOKEN


def test_typing_is_not_supported(provider):
    with respx.mock(assert_all_called=False) as router:
        route = router.route()
        with pytest.raises(NotSupported):
            provider.send_typing(CHIP, CUSTOMER, 1500)
    assert route.call_count == 0


def test_lid_cannot_be_resolved_to_a_phone(provider):
    assert provider.resolve_lid(CHIP, "201234567890123") is None


MEDIA_URL = (
    "https://f004.backblazeb2.com/file/temp-file-download/instances/3E6D0000000000000000000000000001"
    "/3EB0C126E2E40E9DB35B59/AAAAAAAAAAAAAAAAAAAAAA==.pdf"
)


def test_download_media_gets_the_public_url_without_credentials(provider):
    with respx.mock(assert_all_called=True) as router:
        route = router.get(MEDIA_URL).respond(200, content=b"%PDF-1.4", headers={"Content-Type": "application/pdf"})
        media = provider.download_media(
            CHIP, StoredMedia(provider_message_id="3EB0C126E2E40E9DB35B59", media_url=MEDIA_URL, file_name="doc.pdf")
        )
    assert media == MediaFile(content=b"%PDF-1.4", mime_type="application/pdf", file_name="doc.pdf")
    headers = route.calls[0].request.headers
    assert "Client-Token" not in headers
    assert TOKEN not in str(route.calls[0].request.url)


def test_download_media_prefers_the_recorded_mime_type(provider):
    with respx.mock() as router:
        router.get(MEDIA_URL).respond(200, content=b"OggS", headers={"Content-Type": "application/octet-stream"})
        media = provider.download_media(
            CHIP, StoredMedia(provider_message_id="X", media_url=MEDIA_URL, mime_type="audio/ogg; codecs=opus")
        )
    assert media.mime_type == "audio/ogg; codecs=opus"


def test_expired_media_is_a_permanent_failure(provider):
    with respx.mock() as router:
        router.get(MEDIA_URL).respond(404, text="not found")
        with pytest.raises(ProviderError) as caught:
            provider.download_media(CHIP, StoredMedia(provider_message_id="X", media_url=MEDIA_URL))
    assert (caught.value.permanent, caught.value.status_code) == (True, 404)


@pytest.mark.parametrize("url", ["", "file:///etc/passwd", "ftp://host/file"])
def test_download_media_needs_an_http_url(provider, url):
    with respx.mock(assert_all_called=False) as router:
        route = router.route()
        with pytest.raises(ProviderError) as caught:
            provider.download_media(CHIP, StoredMedia(provider_message_id="X", media_url=url))
    assert caught.value.permanent is True
    assert route.call_count == 0


# --- the token is in the URL: never in an error message, never in a log line -------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        (400, {"error": f"Instance {INSTANCE} with token {TOKEN} not found"}),
        (400, {"error": f"Client-Token {CLIENT_TOKEN} not allowed"}),
        (404, f"Cannot POST /instances/{INSTANCE}/token/{TOKEN}/send-text"),
    ],
    ids=["token-echoed", "client-token-echoed", "path-echoed"],
)
def test_errors_never_carry_the_credentials(provider, answer):
    status, body = answer
    with respx.mock() as router:
        route = router.post(f"{PREFIX}/send-text")
        route.respond(status, json=body) if isinstance(body, dict) else route.respond(status, text=body)
        with pytest.raises(ProviderError) as caught:
            provider.send_text(CHIP, CUSTOMER, "Oi")
    message = str(caught.value)
    assert TOKEN not in message and CLIENT_TOKEN not in message
    assert f"({status})" in message and "***" in message
    assert (caught.value.permanent, caught.value.status_code) == (True, status)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__ is True


@pytest.mark.parametrize(
    "failure", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow")], ids=["connect", "read-timeout"]
)
def test_transport_failures_keep_their_retry_semantics(provider, failure):
    with respx.mock() as router:
        router.post(f"{PREFIX}/send-text").side_effect = failure
        with pytest.raises(ProviderError) as caught:
            provider.send_text(CHIP, CUSTOMER, "Oi")
    assert caught.value.permanent is False
    assert caught.value.outcome_unknown is isinstance(failure, httpx.ReadTimeout)
    assert TOKEN not in str(caught.value)


def test_httpx_request_log_line_has_the_token_masked(provider, caplog):
    caplog.set_level(logging.INFO, logger="httpx")
    with respx.mock() as router:
        router.post(f"{PREFIX}/send-text").respond(200, json=SENT)
        provider.send_text(CHIP, CUSTOMER, "Oi")
    lines = [record.getMessage() for record in caplog.records if record.name == "httpx"]
    assert lines == ['HTTP Request: POST https://api.z-api.io/instances/***/token/***/send-text "HTTP/1.1 200 OK"']
    assert TOKEN not in caplog.text
