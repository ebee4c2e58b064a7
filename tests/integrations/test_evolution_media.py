"""Evolution media kinds (and other non-text content), parsed from the fixtures into exact events."""

import copy
from datetime import UTC, datetime

import pytest

from integrations.providers.base import Contact, GatewayConfig, InboundMessage
from integrations.providers.evolution import EvolutionProvider
from tests.payloads import load_fixture

provider = EvolutionProvider(GatewayConfig(kind="evolution", base_url="http://evo.test", webhook_secret="s"))


def fixture(name):
    return load_fixture(f"evolution/{name}.json")


def parse_one(body):
    [event] = provider.parse(body)
    assert isinstance(event, InboundMessage)
    return event


def at(seconds):
    return datetime.fromtimestamp(seconds, tz=UTC)


def test_image_with_inline_base64_v2_capture():
    body = fixture("messages.upsert__image_base64_v2")
    event = parse_one(body)
    assert event == InboundMessage(
        provider_message_id="3EB025A75C7367ED422EBA",
        contact=Contact(phone="+5585990000001", push_name="Ivo"),
        from_me=False,
        kind="image",
        mime_type="image/jpeg",
        timestamp=at(1732041577),
        raw=body["data"],
    )


def test_voice_note_v2_capture():
    body = fixture("messages.upsert__audio_ptt_v2")
    assert parse_one(body) == InboundMessage(
        provider_message_id="3EB0B5C72FAD50804DAF26",
        contact=Contact(phone="+5585990000001", push_name="Ivo"),
        from_me=False,
        kind="audio",
        mime_type="audio/ogg; codecs=opus",
        timestamp=at(1732042073),
        raw=body["data"],
    )


def test_list_reply_is_interactive_with_the_chosen_title_and_the_quoted_list():
    body = fixture("messages.upsert__list_response_v2")
    assert parse_one(body) == InboundMessage(
        provider_message_id="3EB07AD954B951BE89C57C",
        contact=Contact(phone="+5585990000001", push_name="Ivo"),
        from_me=False,
        kind="interactive",
        text="Sim",
        quoted_id="3EB085785EB2D70C4C75A57EF7F06CEC5BE30251",
        timestamp=at(1747254526),
        raw=body["data"],
    )


def test_document_with_s3_media_url_and_quote_at_data_level():
    body = fixture("messages.upsert__document_media_url_v2")
    assert parse_one(body) == InboundMessage(
        provider_message_id="3EB0DEC0DE0000000001",
        contact=Contact(phone="+5511900000007", push_name="Ana"),
        from_me=False,
        kind="document",
        caption="segue a fatura",
        mime_type="application/pdf",
        file_name="fatura.pdf",
        media_url="https://s3.example.com/evolution/abb8e7b9/5511900000007@s.whatsapp.net/documentMessage/"
        "1785101000000_fatura.pdf",
        quoted_id="3EB0F1A2B3C4D5E6F70819",
        timestamp=at(1785101000),
        raw=body["data"],
    )


def test_quote_inside_the_content_v1_shape():
    body = copy.deepcopy(fixture("messages.upsert__document_media_url_v2"))
    del body["data"]["contextInfo"]  # v1 leaves contextInfo in the content only
    body["data"]["message"]["documentMessage"]["contextInfo"]["stanzaId"] = "3EB0QUOTEDINSIDE0001"
    assert parse_one(body).quoted_id == "3EB0QUOTEDINSIDE0001"


def test_v1_document_with_caption_wrapper_is_unwrapped():
    body = fixture("messages.upsert__document_caption_v1")
    assert parse_one(body) == InboundMessage(
        provider_message_id="3EB016D7881A2C29E25378",
        contact=Contact(phone="+5548990000031", push_name="Cliente Teste"),
        from_me=False,
        kind="document",
        caption="pode subir essa campanha por favor",
        mime_type="text/csv",
        file_name="Clientes-03-01-2024-11-38-32.csv",
        timestamp=at(1704301811),
        raw=body["data"],
    )


def test_video_with_caption():
    body = fixture("messages.upsert__video_caption_v2")
    event = parse_one(body)
    assert (event.kind, event.caption, event.mime_type, event.text) == ("video", "o medidor", "video/mp4", "")
    assert event.provider_message_id == "3EB0B1DE000000000001"


def test_round_video_note_ptv_is_a_video():
    event = parse_one(fixture("messages.upsert__ptv_v2"))
    assert (event.kind, event.mime_type, event.caption) == ("video", "video/mp4", "")


def test_sticker():
    event = parse_one(fixture("messages.upsert__sticker_v2"))
    assert (event.kind, event.mime_type, event.quoted_id) == ("sticker", "image/webp", "")


def test_location_has_coordinates():
    body = fixture("messages.upsert__location_v2")
    assert parse_one(body) == InboundMessage(
        provider_message_id="3AC859A3C2069CD40799",
        contact=Contact(phone="+5549990000011", push_name="Cliente Teste"),
        from_me=False,
        kind="location",
        latitude=-23.550519561767578,
        longitude=-46.63330841064453,
        timestamp=at(1676629467),
        raw=body["data"],
    )


def test_location_name_and_address_become_the_text():
    body = copy.deepcopy(fixture("messages.upsert__location_v2"))
    body["data"]["message"]["locationMessage"].update({"name": "Praça da Sé", "address": "São Paulo - SP"})
    assert parse_one(body).text == "Praça da Sé São Paulo - SP"


def test_contacts_array_lists_the_names():
    body = fixture("messages.upsert__contacts_array_v2")
    event = parse_one(body)
    assert (event.kind, event.text) == ("contact", "Adapta, Silvia Souza")
    assert event.contact == Contact(phone="+5549990000011", push_name="Cliente Teste")


def test_single_contact_card():
    body = copy.deepcopy(fixture("messages.upsert__contacts_array_v2"))
    body["data"]["message"] = {"contactMessage": {"displayName": "Adapta", "vcard": "BEGIN:VCARD\nEND:VCARD"}}
    body["data"]["messageType"] = "contactMessage"
    assert (parse_one(body).kind, parse_one(body).text) == ("contact", "Adapta")


def test_reaction_points_at_the_reacted_message():
    body = fixture("messages.upsert__reaction_v2")
    assert parse_one(body) == InboundMessage(
        provider_message_id="3ABBD003E80C199C7BF6",
        contact=Contact(phone="+5549990000011", push_name="Cliente Teste"),
        from_me=False,
        kind="reaction",
        text="👍",
        quoted_id="3A51A48E269AFFF123FB",
        timestamp=at(1676631873),
        raw=body["data"],
    )


@pytest.mark.parametrize("wrapper", ["ephemeralMessage", "viewOnceMessageV2", "viewOnceMessageV2Extension"])
def test_wrapped_content_is_unwrapped(wrapper):
    body = copy.deepcopy(fixture("messages.upsert__audio_ptt_v2"))
    content = body["data"]["message"]
    body["data"]["message"] = {wrapper: {"message": {"audioMessage": content["audioMessage"]}}}
    body["data"]["messageType"] = wrapper
    event = parse_one(body)
    assert (event.kind, event.mime_type) == ("audio", "audio/ogg; codecs=opus")


def test_media_url_is_taken_only_from_the_message_envelope():
    body = copy.deepcopy(fixture("messages.upsert__image_caption_v2"))
    assert parse_one(body).media_url == ""  # the encrypted mmg.whatsapp.net url is not a download url
    body["data"]["message"]["mediaUrl"] = "https://minio.example/evo/a.jpg"
    assert parse_one(body).media_url == "https://minio.example/evo/a.jpg"
