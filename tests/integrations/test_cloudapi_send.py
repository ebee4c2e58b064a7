"""Outbound Cloud API calls, faked with respx against Meta's request and error shapes."""

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
from integrations.providers.cloudapi import CloudApiProvider
from tests.payloads import load_fixture

BASE = "https://graph.facebook.com/v23.0"
TOKEN = "EAAJB-test-access-token"
CHIP = ChipAddress(instance_name="106540352242922", phone="+15550783881")
MESSAGES_URL = f"{BASE}/106540352242922/messages"
SENT_ID = "wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA"


@pytest.fixture
def provider():
    p = CloudApiProvider(GatewayConfig(kind="cloudapi", base_url=BASE, api_key=TOKEN, webhook_secret="s"))
    yield p
    p.close()


def sent_json(route, index=0):
    return json.loads(route.calls[index].request.content)


def meta_error(code, message, *, details="", status=400):
    body = {"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEf123"}}
    if details:
        body["error"]["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return httpx.Response(status, json=body)


# --- text --------------------------------------------------------------------------------------------------


def test_send_text_to_a_phone(provider):
    with respx.mock(assert_all_called=True) as router:
        route = router.post(MESSAGES_URL).respond(200, json=load_fixture("cloudapi/response.send__docs.json"))
        result = provider.send_text(CHIP, Contact(phone="+5511987654321", bsuid="US.1"), "Olá! Como posso ajudar?")
    assert result.provider_message_id == SENT_ID
    request = route.calls[0].request
    assert request.method == "POST"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent_json(route) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "5511987654321",
        "type": "text",
        "text": {"preview_url": False, "body": "Olá! Como posso ajudar?"},
    }


def test_send_text_to_a_bsuid_only_contact_uses_recipient(provider):
    with respx.mock(assert_all_called=True) as router:
        route = router.post(MESSAGES_URL).respond(200, json=load_fixture("cloudapi/response.send__bsuid_docs.json"))
        result = provider.send_text(CHIP, Contact(bsuid="US.13491208655302741918"), "Oi")
    assert result.provider_message_id == SENT_ID
    body = sent_json(route)
    assert "to" not in body
    assert body["recipient"] == "US.13491208655302741918"
    assert body["recipient_type"] == "individual"


def test_send_to_a_lid_only_contact_is_a_permanent_error(provider):
    with respx.mock(assert_all_called=False) as router:
        route = router.post(MESSAGES_URL)
        with pytest.raises(ProviderError) as caught:
            provider.send_text(CHIP, Contact(lid="201234567890123"), "Oi")
    assert caught.value.permanent is True
    assert "BSUID" in str(caught.value)
    assert route.call_count == 0


def test_answer_without_message_id_returns_none(provider):
    with respx.mock() as router:
        router.post(MESSAGES_URL).respond(200, json={"messaging_product": "whatsapp", "messages": []})
        assert provider.send_text(CHIP, Contact(phone="+5511987654321"), "Oi").provider_message_id is None


# --- media -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("media", "expected"),
    [
        (
            OutboundMedia(kind="image", url="https://cdn.test/catalogo.png", caption="Nosso catálogo"),
            {"link": "https://cdn.test/catalogo.png", "caption": "Nosso catálogo"},
        ),
        (
            OutboundMedia(kind="document", url="https://cdn.test/p.pdf", caption="Proposta", file_name="proposta.pdf"),
            {"link": "https://cdn.test/p.pdf", "caption": "Proposta", "filename": "proposta.pdf"},
        ),
        (
            OutboundMedia(kind="audio", url="https://cdn.test/a.ogg", caption="ignored", file_name="a.ogg"),
            {"link": "https://cdn.test/a.ogg"},
        ),
        (OutboundMedia(kind="video", url="https://cdn.test/v.mp4"), {"link": "https://cdn.test/v.mp4"}),
    ],
    ids=["image", "document", "audio", "video"],
)
def test_send_media_by_link(provider, media, expected):
    with respx.mock(assert_all_called=True) as router:
        route = router.post(MESSAGES_URL).respond(200, json=load_fixture("cloudapi/response.send__docs.json"))
        result = provider.send_media(CHIP, Contact(phone="+5511987654321"), media)
    assert result.provider_message_id == SENT_ID
    assert sent_json(route) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "5511987654321",
        "type": media.kind,
        media.kind: expected,
    }


def test_send_media_of_an_unknown_kind_is_refused(provider):
    with pytest.raises(ProviderError) as caught:
        provider.send_media(CHIP, Contact(phone="+5511987654321"), OutboundMedia(kind="sticker", url="https://x"))
    assert caught.value.permanent is True


# --- read receipts and typing ------------------------------------------------------------------------------


def test_mark_read_marks_the_latest_message(provider):
    with respx.mock(assert_all_called=True) as router:
        route = router.post(MESSAGES_URL).respond(200, json={"success": True})
        provider.mark_read(CHIP, Contact(phone="+5511987654321"), ["wamid.OLD", "wamid.LATEST"])
    assert route.call_count == 1
    assert route.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent_json(route) == {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.LATEST"}


def test_mark_read_of_nothing_calls_nothing(provider):
    with respx.mock(assert_all_called=False) as router:
        route = router.post(MESSAGES_URL)
        provider.mark_read(CHIP, Contact(phone="+5511987654321"), [])
    assert route.call_count == 0


def test_typing_is_not_supported_without_a_message_id(provider):
    with pytest.raises(NotSupported):
        provider.send_typing(CHIP, Contact(phone="+5511987654321"), 1500)


# --- media download ------------------------------------------------------------------------------------------


def test_download_media_is_two_authenticated_gets(provider):
    info = load_fixture("cloudapi/response.media__docs.json")
    with respx.mock(assert_all_called=True) as router:
        lookup = router.get(f"{BASE}/1870770316696531").respond(200, json=info)
        download = router.get(info["url"]).respond(
            200, content=b"\xff\xd8\xff-jpeg-bytes", headers={"Content-Type": "image/jpeg"}
        )
        media = provider.download_media(
            CHIP, StoredMedia(provider_message_id="wamid.X", media_id="1870770316696531", file_name="foto.jpg")
        )
    assert media == MediaFile(content=b"\xff\xd8\xff-jpeg-bytes", mime_type="image/jpeg", file_name="foto.jpg")
    for route in (lookup, download):
        assert route.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_download_media_from_the_webhook_url_when_there_is_no_id(provider):
    url = "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1"
    with respx.mock(assert_all_called=True) as router:
        router.get(url).respond(200, content=b"pdf", headers={"Content-Type": "application/pdf"})
        media = provider.download_media(CHIP, StoredMedia(provider_message_id="wamid.X", media_url=url))
    assert (media.content, media.mime_type) == (b"pdf", "application/pdf")


def test_download_never_sends_the_token_over_plain_http(provider):
    with respx.mock(assert_all_called=False) as router:
        router.get(f"{BASE}/1").respond(200, json={"url": "http://evil.test/file", "mime_type": "image/jpeg"})
        leak = router.get("http://evil.test/file")
        with pytest.raises(ProviderError):
            provider.download_media(CHIP, StoredMedia(provider_message_id="wamid.X", media_id="1"))
    assert leak.call_count == 0


def test_expired_media_is_a_permanent_error(provider):
    with respx.mock() as router:
        router.get(f"{BASE}/1").mock(return_value=meta_error(100, "Invalid parameter"))
        with pytest.raises(ProviderError) as caught:
            provider.download_media(CHIP, StoredMedia(provider_message_id="wamid.X", media_id="1"))
    assert caught.value.permanent is True


# --- Meta error classification --------------------------------------------------------------------------------


def test_outside_the_service_window_is_permanent_with_a_clear_message(provider):
    with respx.mock() as router:
        router.post(MESSAGES_URL).mock(
            return_value=meta_error(
                131047,
                "(#131047) Re-engagement message",
                details="Message failed to send because more than 24 hours have passed since the customer last "
                "replied to this number.",
            )
        )
        with pytest.raises(ProviderError) as caught:
            provider.send_text(CHIP, Contact(phone="+5511987654321"), "Oi")
    assert caught.value.permanent is True
    assert str(caught.value).startswith("outside the 24-hour customer service window: only templates may be sent")
    assert caught.value.status_code == 400


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (130429, "(#130429) Rate limit hit"),
        (131056, "(#131056) (Business Account, Consumer Account) pair rate limit hit"),
    ],
    ids=["throughput", "pair-rate"],
)
def test_rate_limits_are_transient(provider, code, message):
    with respx.mock() as router:
        router.post(MESSAGES_URL).mock(return_value=meta_error(code, message))
        with pytest.raises(ProviderError) as caught:
            provider.send_text(CHIP, Contact(phone="+5511987654321"), "Oi")
    assert caught.value.permanent is False
    assert caught.value.outcome_unknown is False
    assert str(code) in str(caught.value)


@pytest.mark.parametrize(
    ("code", "message", "status"),
    [
        (100, "(#100) Invalid parameter", 400),
        (131030, "(#131030) Recipient phone number not in allowed list", 400),
        (190, "Error validating access token: Session has expired", 401),
    ],
    ids=["invalid-parameter", "not-allowed-recipient", "expired-token"],
)
def test_other_client_errors_are_permanent(provider, code, message, status):
    with respx.mock() as router:
        router.post(MESSAGES_URL).mock(return_value=meta_error(code, message, status=status))
        with pytest.raises(ProviderError) as caught:
            provider.send_text(CHIP, Contact(phone="+5511987654321"), "Oi")
    assert caught.value.permanent is True
    assert f"({status})" in str(caught.value)


def test_server_errors_are_transient(provider):
    with respx.mock() as router:
        router.post(MESSAGES_URL).mock(return_value=meta_error(1, "An unknown error occurred", status=500))
        with pytest.raises(ProviderError) as caught:
            provider.send_text(CHIP, Contact(phone="+5511987654321"), "Oi")
    assert caught.value.permanent is False


def test_access_token_never_appears_in_errors(provider):
    with respx.mock() as router:
        router.post(MESSAGES_URL).mock(return_value=meta_error(100, "(#100) Invalid parameter"))
        with pytest.raises(ProviderError) as caught:
            provider.send_text(CHIP, Contact(phone="+5511987654321"), "Oi")
    assert TOKEN not in str(caught.value)
