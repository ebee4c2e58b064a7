"""Evolution outbound calls against its real request shapes: media, voice notes, read marks, downloads."""

import base64
import copy
import json

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
    StoredMedia,
)
from integrations.providers.evolution import EvolutionProvider
from tests.payloads import load_fixture

BASE = "http://evo.test"
CHIP = ChipAddress(instance_name="acme-01", instance_token="instance-token-1")
ANA = Contact(phone="+5511900000007", push_name="Ana")
LID_ONLY = Contact(lid="209876543210987")


@pytest.fixture
def provider():
    instance = EvolutionProvider(GatewayConfig(kind="evolution", base_url=BASE, api_key="global-key"))
    yield instance
    instance.close()


@pytest.fixture
def router():
    with respx.mock(base_url=BASE, assert_all_called=True) as mock:
        yield mock


def sent(route):
    [call] = route.calls
    return call.request, json.loads(call.request.content)


def test_image_by_url_goes_to_send_media(provider, router):
    route = router.post("/message/sendMedia/acme-01").respond(
        201, json=load_fixture("evolution/response.sendMedia_image__v1.json")
    )
    media = OutboundMedia(kind="image", url="https://cdn.example/p.jpg", caption="Nossa tabela", mime_type="image/jpeg")
    result = provider.send_media(CHIP, ANA, media)
    request, body = sent(route)
    assert request.method == "POST"
    assert request.headers["apikey"] == "instance-token-1"
    assert body == {
        "number": "5511900000007",
        "mediatype": "image",
        "media": "https://cdn.example/p.jpg",
        "mimetype": "image/jpeg",
        "caption": "Nossa tabela",
    }
    assert result.provider_message_id == "BAE548E8E5CB0ED6"


def test_document_carries_its_file_name(provider, router):
    route = router.post("/message/sendMedia/acme-01").respond(201, json={"key": {"id": "3EB0D0C0000000000001"}})
    media = OutboundMedia(
        kind="document", url="https://cdn.example/proposta.pdf", file_name="proposta.pdf", mime_type="application/pdf"
    )
    assert provider.send_media(CHIP, ANA, media).provider_message_id == "3EB0D0C0000000000001"
    _, body = sent(route)
    assert body == {
        "number": "5511900000007",
        "mediatype": "document",
        "media": "https://cdn.example/proposta.pdf",
        "mimetype": "application/pdf",
        "fileName": "proposta.pdf",
    }


def test_video_without_optional_fields_sends_none_of_them(provider, router):
    route = router.post("/message/sendMedia/acme-01").respond(201, json={"key": {"id": "3EB0V"}})
    provider.send_media(CHIP, ANA, OutboundMedia(kind="video", url="https://cdn.example/v.mp4"))
    _, body = sent(route)
    assert body == {"number": "5511900000007", "mediatype": "video", "media": "https://cdn.example/v.mp4"}


def test_audio_is_a_voice_note_through_send_whatsapp_audio(provider, router):
    route = router.post("/message/sendWhatsAppAudio/acme-01").respond(
        201, json=load_fixture("evolution/response.sendWhatsAppAudio__v1.json")
    )
    media = OutboundMedia(kind="audio", url="https://cdn.example/oi.ogg", caption="ignored", mime_type="audio/ogg")
    result = provider.send_media(CHIP, ANA, media)
    request, body = sent(route)
    assert request.headers["apikey"] == "instance-token-1"
    assert body == {"number": "5511900000007", "audio": "https://cdn.example/oi.ogg"}
    assert result.provider_message_id == "BAE5E0E12CC32CC2"


def test_media_to_a_lid_only_contact_uses_the_lid_jid(provider, router):
    route = router.post("/message/sendMedia/acme-01").respond(201, json={"key": {"id": "3EB0L"}})
    provider.send_media(CHIP, LID_ONLY, OutboundMedia(kind="image", url="https://cdn.example/p.jpg"))
    assert sent(route)[1]["number"] == "209876543210987@lid"


def test_unknown_media_kind_is_not_supported(provider):
    with respx.mock(base_url=BASE) as mock:
        with pytest.raises(NotSupported):
            provider.send_media(CHIP, ANA, OutboundMedia(kind="sticker", url="https://cdn.example/s.webp"))
        assert not mock.calls


def test_global_key_is_used_without_an_instance_token_and_names_are_quoted(provider, router):
    route = router.post("/message/sendMedia/Ivo%20Teste").respond(201, json={"key": {"id": "3EB0Q"}})
    provider.send_media(ChipAddress(instance_name="Ivo Teste"), ANA, OutboundMedia(kind="image", url="https://x/p"))
    assert sent(route)[0].headers["apikey"] == "global-key"


def test_send_text_answer_id_is_the_send_message_echo_id(provider, router):
    router.post("/message/sendText/acme-01").respond(201, json=load_fixture("evolution/response.sendText__v2_3_7.json"))
    result = provider.send_text(CHIP, ANA, "Olá Ana! Posso te ajudar com a sua conta?")
    echo = load_fixture("evolution/send.message__text_v2_3_7.json")
    assert result.provider_message_id == echo["data"]["key"]["id"] == "3EB0F1A2B3C4D5E6F70819"


def test_typing_is_a_blocking_composing_presence(provider, router):
    route = router.post("/chat/sendPresence/acme-01").respond(201, json={})
    provider.send_typing(CHIP, ANA, 2500)
    request, body = sent(route)
    assert request.headers["apikey"] == "instance-token-1"
    assert body == {"number": "5511900000007", "presence": "composing", "delay": 2500}


def test_mark_read_sends_the_chat_jid_and_unique_ids(provider, router):
    route = router.post("/chat/markMessageAsRead/acme-01").respond(
        201, json={"message": "Read messages", "read": "success"}
    )
    provider.mark_read(CHIP, ANA, ["3EB0A", "3EB0B", "3EB0A"])
    request, body = sent(route)
    assert request.headers["apikey"] == "instance-token-1"
    assert body == {
        "readMessages": [
            {"remoteJid": "5511900000007@s.whatsapp.net", "fromMe": False, "id": "3EB0A"},
            {"remoteJid": "5511900000007@s.whatsapp.net", "fromMe": False, "id": "3EB0B"},
        ]
    }


def test_mark_read_for_a_lid_only_contact_uses_the_lid_jid(provider, router):
    route = router.post("/chat/markMessageAsRead/acme-01").respond(201, json={"read": "success"})
    provider.mark_read(CHIP, LID_ONLY, ["3A9F8E7D6C5B4A392817"])
    assert sent(route)[1]["readMessages"][0]["remoteJid"] == "209876543210987@lid"


def test_mark_read_with_nothing_to_mark_calls_nothing(provider):
    with respx.mock(base_url=BASE) as mock:
        provider.mark_read(CHIP, ANA, [])
        assert not mock.calls


def stored(name="messages.upsert__image_base64_v2", **changes):
    data = copy.deepcopy(load_fixture(f"evolution/{name}.json")["data"])
    for path, value in changes.items():
        data["message"][path] = value
    return StoredMedia(provider_message_id=data["key"]["id"], mime_type="image/jpeg", file_name="", raw=data)


def test_download_calls_get_base64_from_media_message(provider, router):
    # The capture's inline `base64` is a placeholder ("base64img") that does not decode: ask the gateway.
    answer = load_fixture("evolution/response.getBase64FromMediaMessage__v2_3_7.json")
    route = router.post("/chat/getBase64FromMediaMessage/acme-01").respond(201, json=answer)
    media = provider.download_media(CHIP, stored())
    request, body = sent(route)
    assert request.headers["apikey"] == "instance-token-1"
    assert body == {"message": {"key": {"id": "3EB025A75C7367ED422EBA"}}, "convertToMp4": False}
    assert media == MediaFile(
        content=base64.b64decode(answer["base64"]), mime_type="image/jpeg", file_name="3EB025A75C7367ED422EBA.jpeg"
    )


def test_download_uses_the_webhook_base64_without_a_call(provider):
    payload = b"\xff\xd8\xff\xe0 a tiny jpeg"
    media = stored(base64=base64.b64encode(payload).decode())
    with respx.mock(base_url=BASE) as mock:
        assert provider.download_media(CHIP, media) == MediaFile(content=payload, mime_type="image/jpeg")
        assert not mock.calls


def test_download_without_raw_asks_the_gateway(provider, router):
    route = router.post("/chat/getBase64FromMediaMessage/acme-01").respond(
        201,
        json={
            "mediaType": "audioMessage",
            "fileName": "a.oga",
            "mimetype": "audio/ogg; codecs=opus",
            "base64": "T2dnUw==",
        },
    )
    result = provider.download_media(CHIP, StoredMedia(provider_message_id="3EB0B5C72FAD50804DAF26"))
    assert result == MediaFile(content=b"OggS", mime_type="audio/ogg; codecs=opus", file_name="a.oga")
    assert route.call_count == 1


@pytest.mark.parametrize("answer", [{"mediaType": "imageMessage"}, {"base64": "not base64!"}, ["x"]])
def test_download_answer_without_the_file_is_a_permanent_error(provider, router, answer):
    router.post("/chat/getBase64FromMediaMessage/acme-01").respond(201, json=answer)
    with pytest.raises(ProviderError) as caught:
        provider.download_media(CHIP, StoredMedia(provider_message_id="3EB0X"))
    assert caught.value.permanent is True


def test_download_of_an_unknown_message_is_a_permanent_error(provider, router):
    router.post("/chat/getBase64FromMediaMessage/acme-01").respond(
        400, json={"status": 400, "error": "Bad Request", "response": {"message": ["Message not found"]}}
    )
    with pytest.raises(ProviderError) as caught:
        provider.download_media(CHIP, StoredMedia(provider_message_id="3EB0X"))
    assert (caught.value.permanent, caught.value.status_code) == (True, 400)


@pytest.mark.parametrize(
    ("path", "call"),
    [
        ("/message/sendText/acme-01", lambda p: p.send_text(CHIP, ANA, "Oi")),
        ("/message/sendMedia/acme-01", lambda p: p.send_media(CHIP, ANA, OutboundMedia(kind="image", url="u"))),
        ("/chat/markMessageAsRead/acme-01", lambda p: p.mark_read(CHIP, ANA, ["3EB0A"])),
        ("/chat/getBase64FromMediaMessage/acme-01", lambda p: p.download_media(CHIP, StoredMedia("3EB0A"))),
    ],
    ids=["text", "media", "read", "download"],
)
def test_unactivated_evolution_2_4_is_a_permanent_error(provider, router, path, call):
    router.post(path).respond(503, json=load_fixture("evolution/response.license_required__v2_4.json"))
    with pytest.raises(ProviderError) as caught:
        call(provider)
    assert (caught.value.permanent, caught.value.outcome_unknown, caught.value.status_code) == (True, False, 503)
    assert "LICENSE_REQUIRED" in str(caught.value)
    assert "not activated" in str(caught.value)


@pytest.mark.parametrize(
    "response",
    [httpx.Response(503, json={"error": "try later"}), httpx.Response(503, text="<html>Bad Gateway</html>")],
    ids=["json", "html"],
)
def test_other_503s_stay_transient(provider, router, response):
    router.post("/message/sendText/acme-01").mock(return_value=response)
    with pytest.raises(ProviderError) as caught:
        provider.send_text(CHIP, ANA, "Oi")
    assert caught.value.permanent is False
