"""Calls to the WAHA API, faked with respx against its real request and answer shapes."""

import json

import httpx
import pytest
import respx

import integrations.providers.waha.provider as waha
from integrations.providers.base import (
    ChipAddress,
    Contact,
    GatewayConfig,
    NotSupported,
    OutboundMedia,
    ProviderError,
    StoredMedia,
)
from integrations.providers.waha import WahaProvider
from tests.payloads import load_fixture

BASE = "http://waha.test:3000"
CHIP = ChipAddress(instance_name="acme-01")
PHONE = Contact(phone="+5511900000001")
LID_ONLY = Contact(lid="201234567890123")


@pytest.fixture
def provider():
    instance = WahaProvider(GatewayConfig(kind="waha", base_url=BASE, api_key="waha-api-key", webhook_secret="s"))
    yield instance
    instance.close()


def sent(route):
    request = route.calls.last.request
    return request, json.loads(request.content or b"null")


# --- send_text ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("response.sendText__noweb_issue760", "3EB08A6895830F110A5E4D"),
        ("response.sendText__webjs_issue1615", "3EB0378E606CA43FEF38D2"),
        ("response.sendText__gows", "3EB0C5A1B2C3D4E5F60718"),
    ],
)
def test_send_text_reads_each_engines_answer(provider, answer, expected):
    with respx.mock(assert_all_called=True) as router:
        route = router.post(f"{BASE}/api/sendText").respond(201, json=load_fixture(f"waha/{answer}.json"))
        result = provider.send_text(CHIP, PHONE, "Olá!")
    assert result.provider_message_id == expected
    request, body = sent(route)
    assert request.headers["X-Api-Key"] == "waha-api-key"
    assert body == {"session": "acme-01", "chatId": "5511900000001@c.us", "text": "Olá!"}


def test_send_text_to_a_lid_only_contact(provider):
    with respx.mock() as router:
        route = router.post(f"{BASE}/api/sendText").respond(201, json={"id": "true_201234567890123@lid_3EB0AA"})
        result = provider.send_text(CHIP, LID_ONLY, "Oi")
    assert result.provider_message_id == "3EB0AA"
    assert sent(route)[1]["chatId"] == "201234567890123@lid"


def test_send_text_with_an_empty_answer_has_no_id(provider):
    # WEBJS 2025.6.5 answered 201 with no body (devlikeapro/waha#1087).
    with respx.mock() as router:
        router.post(f"{BASE}/api/sendText").respond(201, content=b"")
        assert provider.send_text(CHIP, PHONE, "Oi").provider_message_id is None


def test_contact_without_phone_or_lid_is_a_permanent_failure(provider):
    with respx.mock(assert_all_called=False) as router:
        route = router.post(f"{BASE}/api/sendText")
        with pytest.raises(ProviderError) as caught:
            provider.send_text(CHIP, Contact(push_name="?"), "Oi")
    assert caught.value.permanent is True
    assert route.call_count == 0


# --- send_media ---------------------------------------------------------------------------------


def test_send_image_with_caption(provider):
    media = OutboundMedia(kind="image", url="https://cdn.test/catalogo.png", caption="Nosso catálogo")
    with respx.mock() as router:
        route = router.post(f"{BASE}/api/sendImage").respond(
            201, json=load_fixture("waha/response.sendText__gows.json")
        )
        result = provider.send_media(CHIP, PHONE, media)
    assert result.provider_message_id == "3EB0C5A1B2C3D4E5F60718"
    request, body = sent(route)
    assert request.headers["X-Api-Key"] == "waha-api-key"
    assert body == {
        "session": "acme-01",
        "chatId": "5511900000001@c.us",
        "file": {"url": "https://cdn.test/catalogo.png", "mimetype": "image/png", "filename": "catalogo.png"},
        "caption": "Nosso catálogo",
    }


def test_send_document_uses_send_file(provider):
    media = OutboundMedia(
        kind="document", url="https://cdn.test/f?id=9", file_name="proposta.pdf", mime_type="application/pdf"
    )
    with respx.mock() as router:
        route = router.post(f"{BASE}/api/sendFile").respond(201, json={"key": {"id": "3EB0DOC"}})
        assert provider.send_media(CHIP, LID_ONLY, media).provider_message_id == "3EB0DOC"
    assert sent(route)[1] == {
        "session": "acme-01",
        "chatId": "201234567890123@lid",
        "file": {"url": "https://cdn.test/f?id=9", "mimetype": "application/pdf", "filename": "proposta.pdf"},
    }


@pytest.mark.parametrize(
    ("mime_type", "convert"), [("audio/ogg; codecs=opus", False), ("audio/mpeg", True)], ids=["opus", "mp3"]
)
def test_send_audio_is_a_voice_note(provider, mime_type, convert):
    media = OutboundMedia(kind="audio", url="https://cdn.test/audio", mime_type=mime_type)
    with respx.mock() as router:
        route = router.post(f"{BASE}/api/sendVoice").respond(201, json={"key": {"id": "3EB0VOICE"}})
        provider.send_media(CHIP, PHONE, media)
    assert sent(route)[1] == {
        "session": "acme-01",
        "chatId": "5511900000001@c.us",
        "file": {"url": "https://cdn.test/audio", "mimetype": mime_type},
        "convert": convert,
    }


def test_send_video(provider):
    media = OutboundMedia(kind="video", url="https://cdn.test/demo.mp4", caption="Demo")
    with respx.mock() as router:
        route = router.post(f"{BASE}/api/sendVideo").respond(201, json={"key": {"id": "3EB0VID"}})
        provider.send_media(CHIP, PHONE, media)
    body = sent(route)[1]
    assert body["file"] == {"url": "https://cdn.test/demo.mp4", "mimetype": "video/mp4", "filename": "demo.mp4"}
    assert (body["caption"], body["convert"]) == ("Demo", False)


def test_unknown_media_kind_is_not_supported(provider):
    with pytest.raises(NotSupported):
        provider.send_media(CHIP, PHONE, OutboundMedia(kind="sticker", url="https://cdn.test/s.webp"))


# --- typing, read receipts ------------------------------------------------------------------------


def test_typing_starts_waits_and_stops(provider, monkeypatch):
    events = []
    monkeypatch.setattr(waha.time, "sleep", lambda seconds: events.append(("sleep", seconds)))
    with respx.mock(assert_all_called=True) as router:
        start = router.post(f"{BASE}/api/startTyping").mock(
            side_effect=lambda request: events.append("start") or httpx.Response(201, json={"result": True})
        )
        stop = router.post(f"{BASE}/api/stopTyping").mock(
            side_effect=lambda request: events.append("stop") or httpx.Response(201, json={"result": True})
        )
        provider.send_typing(CHIP, PHONE, 1800)
    assert events == ["start", ("sleep", 1.8), "stop"]
    for route in (start, stop):
        request, body = sent(route)
        assert request.headers["X-Api-Key"] == "waha-api-key"
        assert body == {"session": "acme-01", "chatId": "5511900000001@c.us"}


def test_typing_wait_is_capped(provider, monkeypatch):
    waits = []
    monkeypatch.setattr(waha.time, "sleep", waits.append)
    with respx.mock() as router:
        router.post(f"{BASE}/api/startTyping").respond(201, json={"result": True})
        router.post(f"{BASE}/api/stopTyping").respond(201, json={"result": True})
        provider.send_typing(CHIP, PHONE, 600_000)
    assert waits == [waha.MAX_TYPING_SECONDS]


def test_typing_failure_is_a_provider_error(provider, monkeypatch):
    monkeypatch.setattr(waha.time, "sleep", lambda seconds: None)
    with respx.mock(assert_all_called=False) as router:
        router.post(f"{BASE}/api/startTyping").respond(422, json={"message": "Session status is not as expected"})
        stop = router.post(f"{BASE}/api/stopTyping")
        with pytest.raises(ProviderError) as caught:
            provider.send_typing(CHIP, PHONE, 1000)
    assert caught.value.permanent is True
    assert stop.call_count == 0


def test_mark_read_sends_serialized_ids_of_the_contacts_messages(provider):
    with respx.mock() as router:
        route = router.post(f"{BASE}/api/sendSeen").respond(201, json={})
        provider.mark_read(CHIP, PHONE, ["3EB0AAA", "3EB0BBB"])
    request, body = sent(route)
    assert request.headers["X-Api-Key"] == "waha-api-key"
    assert body == {
        "session": "acme-01",
        "chatId": "5511900000001@c.us",
        "messageIds": ["false_5511900000001@c.us_3EB0AAA", "false_5511900000001@c.us_3EB0BBB"],
    }


def test_mark_read_in_a_lid_chat(provider):
    with respx.mock() as router:
        route = router.post(f"{BASE}/api/sendSeen").respond(201, json={})
        provider.mark_read(CHIP, LID_ONLY, ["3A8E1EBFE4943CA06D82"])
    assert sent(route)[1]["messageIds"] == ["false_201234567890123@lid_3A8E1EBFE4943CA06D82"]


# --- download_media -------------------------------------------------------------------------------


def test_download_from_the_gateway_file_server_uses_our_base_url_and_key(provider):
    # WAHA writes media.url with WAHA_BASE_URL (here the docs' localhost): fetched from our gateway.
    stored = StoredMedia(
        provider_message_id="AAAA",
        media_url="http://localhost:3000/api/files/acme-01/AAAA.pdf",
        mime_type="application/pdf",
        file_name="proposta.pdf",
    )
    with respx.mock(assert_all_called=True) as router:
        route = router.get(f"{BASE}/api/files/acme-01/AAAA.pdf").respond(
            200, content=b"%PDF-1.7", headers={"Content-Type": "application/pdf"}
        )
        file = provider.download_media(CHIP, stored)
    assert (file.content, file.mime_type, file.file_name) == (b"%PDF-1.7", "application/pdf", "proposta.pdf")
    assert route.calls.last.request.headers["X-Api-Key"] == "waha-api-key"


def test_download_from_another_host_does_not_leak_the_api_key(provider):
    stored = StoredMedia(provider_message_id="B", media_url="https://bucket.s3.test/acme-01/B.jpg")
    with respx.mock() as router:
        route = router.get("https://bucket.s3.test/acme-01/B.jpg").respond(
            200, content=b"\xff\xd8", headers={"Content-Type": "image/jpeg"}
        )
        file = provider.download_media(CHIP, stored)
    assert "X-Api-Key" not in route.calls.last.request.headers
    assert file.mime_type == "image/jpeg"


def test_download_falls_back_to_the_raw_payload_url(provider):
    raw = load_fixture("waha/message__docs_document_pdf.json")["payload"]
    stored = StoredMedia(provider_message_id="AAAA", raw=raw)
    with respx.mock() as router:
        route = router.get(f"{BASE}/api/files/true_11111111111@c.us_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.pdf").respond(
            200, content=b"%PDF"
        )
        assert provider.download_media(CHIP, stored).content == b"%PDF"
    assert route.call_count == 1


def test_download_without_url_is_permanent(provider):
    with pytest.raises(ProviderError) as caught:
        provider.download_media(CHIP, StoredMedia(provider_message_id="C", raw={"hasMedia": True, "media": None}))
    assert caught.value.permanent is True


def test_download_gateway_error_is_transient(provider):
    stored = StoredMedia(provider_message_id="D", media_url=f"{BASE}/api/files/acme-01/D.jpg")
    with respx.mock() as router:
        router.get(f"{BASE}/api/files/acme-01/D.jpg").respond(503)
        with pytest.raises(ProviderError) as caught:
            provider.download_media(CHIP, stored)
    assert caught.value.permanent is False


# --- resolve_lid ----------------------------------------------------------------------------------


def test_resolve_lid_returns_the_phone(provider):
    with respx.mock() as router:
        route = router.get(url__regex=rf"{BASE}/api/acme-01/lids/.+").respond(
            200, json={"lid": "201234567890123@lid", "pn": "5511900000005@c.us"}
        )
        assert provider.resolve_lid(CHIP, "201234567890123") == "+5511900000005"
    request = route.calls.last.request
    assert request.url.raw_path == b"/api/acme-01/lids/201234567890123%40lid"
    assert request.headers["X-Api-Key"] == "waha-api-key"


def test_resolve_lid_not_found_is_none(provider):
    with respx.mock() as router:
        router.get(url__regex=rf"{BASE}/api/acme-01/lids/.+").respond(
            200, json=load_fixture("waha/response.lids__not_found_docs.json")
        )
        assert provider.resolve_lid(CHIP, "123123123") is None
