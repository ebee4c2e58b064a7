"""Outbound calls to Whaticket's send API, faked with respx against its real request shapes."""

import json

import httpx
import pytest
import respx

from integrations.providers.base import (
    ChipAddress,
    Contact,
    GatewayConfig,
    NotSupported,
    OutboundMedia,
    ProviderError,
    SendResult,
    StoredMedia,
)
from integrations.providers.whaticket import WhaticketProvider
from tests.payloads import load_fixture

BASE = "http://whaticket.test:8080"
SEND = f"{BASE}/api/messages/send"
TO = Contact(phone="+5511900000301")


def provider(api_key="gateway-api-token"):
    return WhaticketProvider(GatewayConfig(kind="whaticket", base_url=BASE, api_key=api_key, webhook_secret="s"))


def chip(name="comercial", token=""):
    return ChipAddress(instance_name=name, instance_token=token)


def test_the_class_says_no_message_ids():
    assert WhaticketProvider.returns_message_ids is False


@pytest.mark.parametrize(
    ("status", "answer"),
    [
        (200, load_fixture("whaticket/response.send__saas.json")),
        (200, load_fixture("whaticket/response.send__ticketz.json")),
        (200, None),  # whaticket-community: res.send() with an empty body
    ],
    ids=["saas", "ticketz", "community-empty"],
)
def test_send_text_posts_number_and_body_with_the_bearer_token(status, answer):
    with respx.mock(assert_all_called=True) as router:
        route = router.post(SEND)
        route.respond(status, json=answer) if answer is not None else route.respond(status, content=b"")
        result = provider().send_text(chip(), TO, "Olá! Posso ajudar?")
    assert result == SendResult(provider_message_id=None)
    request = route.calls.last.request
    assert request.method == "POST"
    assert request.url.path == "/api/messages/send"
    assert request.headers["Authorization"] == "Bearer gateway-api-token"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {"number": "5511900000301", "body": "Olá! Posso ajudar?"}


def test_numeric_instance_name_is_sent_as_the_whatsapp_id():
    with respx.mock(assert_all_called=True) as router:
        route = router.post(SEND).respond(200, json={"mensagem": "Mensagem enviada"})
        provider().send_text(chip(name="2"), TO, "Oi")
    assert json.loads(route.calls.last.request.content) == {"number": "5511900000301", "body": "Oi", "whatsappId": 2}


def test_chip_token_is_preferred_over_the_gateway_key():
    with respx.mock(assert_all_called=True) as router:
        route = router.post(SEND).respond(200, json={"mensagem": "Mensagem enviada"})
        provider().send_text(chip(token="connection-token-7"), TO, "Oi")
    assert route.calls.last.request.headers["Authorization"] == "Bearer connection-token-7"


def test_no_token_at_all_is_refused_before_calling():
    with respx.mock(assert_all_called=False) as router:
        route = router.post(SEND).respond(200)
        with pytest.raises(ProviderError) as caught:
            provider(api_key="").send_text(chip(), TO, "Oi")
    assert caught.value.permanent is True
    assert route.call_count == 0


def test_lid_only_contact_is_sent_as_a_jid():
    with respx.mock(assert_all_called=True) as router:
        route = router.post(SEND).respond(200, json={"mensagem": "Message added to queue"})
        provider().send_text(chip(), Contact(lid="201234567890123"), "Oi")
    assert json.loads(route.calls.last.request.content)["number"] == "201234567890123@lid"


def test_contact_without_phone_or_lid_is_a_permanent_failure():
    with pytest.raises(ProviderError) as caught:
        provider().send_text(chip(), Contact(push_name="Maria"), "Oi")
    assert caught.value.permanent is True


def test_whaticket_error_is_permanent_with_its_reason():
    with respx.mock() as router:
        router.post(SEND).respond(400, json={"error": "ERR_CHECK_NUMBER"})
        with pytest.raises(ProviderError) as caught:
            provider().send_text(chip(), TO, "Oi")
    assert caught.value.permanent is True
    assert caught.value.status_code == 400
    assert "ERR_CHECK_NUMBER" in str(caught.value)


def test_token_never_appears_in_errors():
    with respx.mock() as router:
        router.post(SEND).respond(401, json={"error": "ERR_SESSION_EXPIRED"})
        with pytest.raises(ProviderError) as caught:
            provider().send_text(chip(), TO, "Oi")
    assert "gateway-api-token" not in str(caught.value)


# --- media ------------------------------------------------------------------------------------------------


def multipart_parts(request):
    """(name, filename, content-type, payload) of each part of a multipart request."""
    boundary = request.headers["Content-Type"].split("boundary=", 1)[1].encode()
    parts = []
    for chunk in request.content.split(b"--" + boundary)[1:-1]:
        head, _, payload = chunk.strip(b"\r\n").partition(b"\r\n\r\n")
        headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n") if ": " in line)
        disposition = headers["Content-Disposition"]
        name = disposition.split('name="', 1)[1].split('"', 1)[0]
        filename = disposition.split('filename="', 1)[1].split('"', 1)[0] if "filename=" in disposition else None
        parts.append((name, filename, headers.get("Content-Type"), payload))
    return parts


def test_send_media_downloads_the_file_and_uploads_it_as_medias():
    pdf = b"%PDF-1.4 fake"
    media = OutboundMedia(kind="document", url="https://files.example.com/p/orcamento.pdf", caption="Seu orçamento")
    with respx.mock(assert_all_called=True) as router:
        download = router.get("https://files.example.com/p/orcamento.pdf").respond(
            200, content=pdf, headers={"Content-Type": "application/pdf"}
        )
        upload = router.post(SEND).respond(200, json={"mensagem": "Mensagem enviada"})
        result = provider().send_media(chip(name="2", token="connection-token-7"), TO, media)
    assert result == SendResult(provider_message_id=None)
    assert "authorization" not in download.calls.last.request.headers  # the token goes to Whaticket only
    request = upload.calls.last.request
    assert request.headers["Authorization"] == "Bearer connection-token-7"
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    parts = multipart_parts(request)
    assert sorted(parts) == sorted(
        [
            ("number", None, None, b"5511900000301"),
            ("body", None, None, "Seu orçamento".encode()),
            ("whatsappId", None, None, b"2"),
            ("medias", "orcamento.pdf", "application/pdf", pdf),
        ]
    )


def test_send_media_uses_the_given_name_and_type_and_omits_an_empty_caption():
    media = OutboundMedia(
        kind="image", url="https://files.example.com/x?sig=1", file_name="foto.jpg", mime_type="image/jpeg"
    )
    with respx.mock(assert_all_called=True) as router:
        router.get("https://files.example.com/x?sig=1").respond(200, content=b"\xff\xd8jpeg")
        upload = router.post(SEND).respond(200, content=b"")
        provider().send_media(chip(), TO, media)
    parts = multipart_parts(upload.calls.last.request)
    assert [p[0] for p in parts] == ["number", "medias"]
    assert parts[1][1:] == ("foto.jpg", "image/jpeg", b"\xff\xd8jpeg")


def test_send_media_names_a_nameless_file_by_kind_and_type():
    media = OutboundMedia(kind="audio", url="https://files.example.com/")
    with respx.mock(assert_all_called=True) as router:
        router.get("https://files.example.com/").respond(200, content=b"OggS", headers={"Content-Type": "audio/ogg"})
        upload = router.post(SEND).respond(200)
        provider().send_media(chip(), TO, media)
    [_, medias] = multipart_parts(upload.calls.last.request)
    assert medias[1:3] == ("audio.ogg", "audio/ogg")


def test_send_media_follows_redirects_of_the_file_host():
    media = OutboundMedia(kind="image", url="https://files.example.com/short", mime_type="image/png")
    with respx.mock(assert_all_called=True) as router:
        router.get("https://files.example.com/short").respond(
            302, headers={"Location": "https://cdn.example.com/a.png"}
        )
        router.get("https://cdn.example.com/a.png").respond(200, content=b"\x89PNG")
        upload = router.post(SEND).respond(200)
        provider().send_media(chip(), TO, media)
    assert multipart_parts(upload.calls.last.request)[-1][3] == b"\x89PNG"


@pytest.mark.parametrize(
    ("failure", "permanent"),
    [(404, True), (503, False), (httpx.ReadTimeout("slow"), False)],
    ids=["404", "503", "read-timeout"],
)
def test_failed_download_never_reaches_whaticket_and_is_never_an_unknown_outcome(failure, permanent):
    media = OutboundMedia(kind="image", url="https://files.example.com/gone.jpg")
    with respx.mock(assert_all_called=False) as router:
        download = router.get("https://files.example.com/gone.jpg")
        if isinstance(failure, Exception):
            download.side_effect = failure
        else:
            download.respond(failure)
        upload = router.post(SEND).respond(200)
        with pytest.raises(ProviderError) as caught:
            provider().send_media(chip(), TO, media)
    assert upload.call_count == 0
    assert caught.value.permanent is permanent
    assert caught.value.outcome_unknown is False
    assert "media file" in str(caught.value)


@pytest.mark.parametrize("url", ["/media/a.jpg", "file:///etc/passwd", "ftp://files.example.com/a.jpg", ""])
def test_send_media_refuses_relative_or_non_http_urls(url):
    with respx.mock(assert_all_called=False) as router:
        upload = router.post(SEND).respond(200)
        with pytest.raises(ProviderError) as caught:
            provider().send_media(chip(), TO, OutboundMedia(kind="image", url=url))
    assert caught.value.permanent is True
    assert upload.call_count == 0


def test_upload_timeout_is_an_unknown_outcome():
    media = OutboundMedia(kind="image", url="https://files.example.com/a.jpg")
    with respx.mock() as router:
        router.get("https://files.example.com/a.jpg").respond(200, content=b"x")
        router.post(SEND).side_effect = httpx.ReadTimeout("slow")
        with pytest.raises(ProviderError) as caught:
            provider().send_media(chip(), TO, media)
    assert caught.value.outcome_unknown is True


def test_oversized_media_is_refused(monkeypatch):
    import integrations.providers.whaticket as whaticket

    monkeypatch.setattr(whaticket, "MAX_MEDIA_BYTES", 4)
    with respx.mock(assert_all_called=False) as router:
        router.get("https://files.example.com/big.bin").respond(200, content=b"12345")
        upload = router.post(SEND).respond(200)
        with pytest.raises(ProviderError) as caught:
            provider().send_media(chip(), TO, OutboundMedia(kind="document", url="https://files.example.com/big.bin"))
    assert caught.value.permanent is True
    assert upload.call_count == 0


# --- what Whaticket cannot do -------------------------------------------------------------------------------


def test_typing_read_receipts_and_downloads_are_not_supported():
    with respx.mock(assert_all_called=False) as router:
        anything = router.route().respond(200)
        with pytest.raises(NotSupported):
            provider().send_typing(chip(), TO, 1000)
        with pytest.raises(NotSupported):
            provider().mark_read(chip(), TO, ["A1"])
        with pytest.raises(NotSupported):
            provider().download_media(chip(), StoredMedia(provider_message_id="A1"))
    assert anything.call_count == 0
    assert provider().resolve_lid(chip(), "201234567890123") is None
