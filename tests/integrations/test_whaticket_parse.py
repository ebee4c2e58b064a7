"""Every Whaticket relay payload in the fixtures, parsed into normalized events; routing keys."""

import copy
from datetime import UTC, datetime

import pytest

from integrations.providers.base import (
    Contact,
    GatewayConfig,
    Ignored,
    InboundMessage,
    MessageEdited,
    MessageRevoked,
    WebhookRejected,
)
from integrations.providers.whaticket import WhaticketProvider, derived_message_id
from tests.payloads import fixture_names, load_fixture

WEBHOOK_FIXTURES = [name for name in fixture_names("whaticket") if "/response." not in name]


def provider():
    return WhaticketProvider(GatewayConfig(kind="whaticket", base_url="http://whaticket.test", webhook_secret="s"))


def parse(name):
    return provider().parse(load_fixture(f"whaticket/{name}.json"))


def at(seconds):
    return datetime.fromtimestamp(seconds, tz=UTC)


def test_text_with_number_added_by_the_relay():
    [event] = parse("message__text_number")
    assert event == InboundMessage(
        provider_message_id="A1B2C3D4E5F60718293A4B5C6D7E8F90",
        contact=Contact(phone="+5511900000101", push_name="Marina Costa"),
        from_me=False,
        kind="text",
        text="Oi! Vi o anúncio do plano empresarial, ainda está disponível?",
        timestamp=at(1747312345),
        raw=load_fixture("whaticket/message__text_number.json"),
    )


def test_extended_text_reply_takes_the_number_from_the_ticket():
    [event] = parse("message__extended_text_reply_ticket")
    assert event == InboundMessage(
        provider_message_id="3A6F2B1C0D9E8F7A6B5C",
        contact=Contact(phone="+5521900000102", push_name="Rafael"),
        from_me=False,
        kind="text",
        text="Pode ser na quinta às 15h",
        quoted_id="3EB0D2B7C1A94F0E6A21",
        timestamp=at(1747312410),
        raw=event.raw,
    )
    assert event.raw["ticket"]["id"] == 357


def test_button_reply_is_interactive_with_the_chosen_title():
    [event] = parse("message__buttons_response")
    assert (event.kind, event.text, event.quoted_id) == ("interactive", "Plano Pro", "3EB0A7F19C2D4B6E8F10")
    assert event.contact == Contact(phone="+5531900000103", push_name="Luiza")
    assert event.provider_message_id == "3AB4E2F6C81D09A7B3E5"
    assert event.timestamp == at(1747312500)


def test_button_reply_without_display_text_falls_back_to_the_button_id():
    body = load_fixture("whaticket/message__buttons_response.json")
    del body["message"]["buttonsResponseMessage"]["selectedDisplayText"]
    [event] = provider().parse(body)
    assert (event.kind, event.text) == ("interactive", "plano_pro")


def test_list_reply_is_interactive_with_the_row_title():
    [event] = parse("message__list_response")
    assert (event.kind, event.text, event.quoted_id) == ("interactive", "Falar com vendas", "3EB05C1E2D3F4A5B6C7D")
    assert event.contact == Contact(phone="+5511900000104", push_name="Carlos Souza")


def test_list_reply_without_title_falls_back_to_the_row_id():
    body = load_fixture("whaticket/message__list_response.json")
    del body["message"]["listResponseMessage"]["title"]
    [event] = provider().parse(body)
    assert event.text == "dept_vendas"


def test_image_keeps_caption_and_mime_type_but_no_url():
    [event] = parse("message__image_caption")
    assert (event.kind, event.caption, event.mime_type, event.text) == ("image", "minha conta de luz", "image/jpeg", "")
    # The WhatsApp CDN URL is encrypted (mediaKey): not a file Whaticket or we can serve.
    assert (event.media_url, event.media_id) == ("", "")


def test_voice_note_is_audio():
    [event] = parse("message__audio_ptt_ticket")
    assert (event.kind, event.mime_type) == ("audio", "audio/ogg; codecs=opus")
    assert event.contact == Contact(phone="+5547900000106", push_name="Dona Cida")
    assert event.timestamp == at(1747312680)


def test_document_with_caption_is_unwrapped_and_string_timestamp_read():
    [event] = parse("message__document_caption")
    assert (event.kind, event.caption, event.file_name, event.mime_type) == (
        "document",
        "Segue o orçamento assinado",
        "orcamento-2025.pdf",
        "application/pdf",
    )
    assert event.timestamp == at(1747312740)


def test_location_has_coordinates_and_name():
    [event] = parse("message__location")
    assert event.kind == "location"
    assert (event.latitude, event.longitude) == (-23.5613991, -46.6565712)
    assert event.text == "Loja Paulista Av. Paulista, 1000 - Bela Vista, São Paulo - SP"


def test_reaction_points_at_the_reacted_message():
    [event] = parse("message__reaction")
    assert (event.kind, event.text, event.quoted_id) == ("reaction", "👍", "3EB0B2C3D4E5F6A7B8C9")


def test_group_message_is_ignored():
    assert parse("message__group") == [Ignored("group, broadcast or channel message")]


@pytest.mark.parametrize(
    "change",
    [
        lambda b: b["ticket"].update(isGroup=True),
        lambda b: b["ticket"]["contact"].update(isGroup=True),
        lambda b: b["key"].update(remoteJid="status@broadcast"),
        lambda b: b["key"].update(remoteJid="120363000000000001@newsletter"),
    ],
    ids=["ticket-is-group", "contact-is-group", "status", "channel"],
)
def test_groups_broadcasts_and_channels_are_ignored(change):
    body = load_fixture("whaticket/message__buttons_response.json")
    change(body)
    [event] = provider().parse(body)
    assert isinstance(event, Ignored)


def test_lid_chat_carries_both_the_lid_and_the_phone():
    [event] = parse("message__lid_sender_pn")
    assert event.contact == Contact(phone="+5511900000110", lid="201234567890123", push_name="Paula")


def test_lid_written_as_the_number_is_not_taken_for_a_phone():
    # ticketz #467: the contact's "number" may hold the LID; this one even looks like a German phone.
    body = load_fixture("whaticket/message__lid_sender_pn.json")
    body["key"]["remoteJid"] = "491512345678901@lid"
    body["number"] = "491512345678901"
    del body["key"]["senderPn"]
    [event] = provider().parse(body)
    assert event.contact == Contact(phone=None, lid="491512345678901", push_name="Paula")


def test_phone_falls_back_to_the_remote_jid():
    body = load_fixture("whaticket/message__text_number.json")
    del body["number"]
    [event] = provider().parse(body)
    assert event.contact.phone == "+5511900000101"


def test_number_wins_over_ticket_and_remote_jid():
    body = load_fixture("whaticket/message__extended_text_reply_ticket.json")
    body["number"] = "5511900000999"
    [event] = provider().parse(body)
    assert event.contact.phone == "+5511900000999"


def test_revoke_is_not_a_message():
    assert parse("message__revoke") == [MessageRevoked(provider_message_id="A1B2C3D4E5F60718293A4B5C6D7E8F90")]


def test_edit_carries_the_new_text():
    assert parse("message__edited") == [
        MessageEdited(
            provider_message_id="A1B2C3D4E5F60718293A4B5C6D7E8F90",
            text="Oi! Vi o anúncio do plano empresarial, ainda está disponível para 10 usuários?",
        )
    ]


def test_edit_as_a_bare_protocol_message_with_numeric_type():
    body = load_fixture("whaticket/message__revoke.json")
    body["message"]["protocolMessage"].update(type=14, editedMessage={"extendedTextMessage": {"text": "novo"}})
    assert provider().parse(body) == [
        MessageEdited(provider_message_id="A1B2C3D4E5F60718293A4B5C6D7E8F90", text="novo")
    ]


def test_other_protocol_messages_are_ignored():
    body = load_fixture("whaticket/message__revoke.json")
    body["message"]["protocolMessage"] = {"type": "EPHEMERAL_SETTING", "ephemeralExpiration": 604800}
    assert provider().parse(body) == [Ignored("system message")]


def test_disappearing_and_view_once_wrappers_are_unwrapped():
    body = load_fixture("whaticket/message__text_number.json")
    body["message"] = {"ephemeralMessage": {"message": {"viewOnceMessageV2": {"message": {"conversation": "oi"}}}}}
    [event] = provider().parse(body)
    assert (event.kind, event.text) == ("text", "oi")


def test_unknown_content_is_kept_as_unknown():
    body = load_fixture("whaticket/message__text_number.json")
    body["message"] = {"pollCreationMessageV3": {"name": "Qual dia?"}}
    [event] = provider().parse(body)
    assert event.kind == "unknown"


def test_from_me_message_is_flagged_and_has_no_push_name():
    body = load_fixture("whaticket/message__text_number.json")
    body["key"]["fromMe"] = True
    [event] = provider().parse(body)
    assert event.from_me is True
    assert event.sent_by_api is False
    assert event.contact == Contact(phone="+5511900000101")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1747312345, 1747312345),
        ("1747312345", 1747312345),
        (1747312345123, 1747312345),
        ({"low": 1747312345, "high": 0, "unsigned": True}, 1747312345),
    ],
    ids=["seconds", "string", "milliseconds", "long"],
)
def test_timestamp_shapes(value, expected):
    body = load_fixture("whaticket/message__text_number.json")
    body["messageTimestamp"] = value
    [event] = provider().parse(body)
    assert event.timestamp == at(expected)


# --- message ids without key.id ------------------------------------------------------------------------


def test_relay_minimal_body_gets_a_derived_id():
    [event] = parse("message__relay_minimal")
    assert event.contact == Contact(phone="+5511900000111")
    assert (event.kind, event.text, event.timestamp) == ("text", "olá", None)
    expected = derived_message_id(Contact(phone="+5511900000111"), None, {"conversation": "olá"})
    assert event.provider_message_id == expected
    assert event.provider_message_id.startswith("wt-") and len(event.provider_message_id) == 67


def test_derived_id_is_stable_across_retries_and_key_order():
    body = load_fixture("whaticket/message__text_number.json")
    del body["key"]["id"]
    first = provider().parse(body)[0].provider_message_id
    reordered = dict(reversed(list(copy.deepcopy(body).items())))
    reordered["message"] = dict(reversed(list(reordered["message"].items())))
    assert provider().parse(reordered)[0].provider_message_id == first


@pytest.mark.parametrize(
    "change",
    [
        lambda b: b.update(number="5511900000999"),
        lambda b: b.update(messageTimestamp=b["messageTimestamp"] + 1),
        lambda b: b["message"].update(conversation="outra coisa"),
    ],
    ids=["other-sender", "other-time", "other-text"],
)
def test_derived_id_differs_for_a_different_message(change):
    body = load_fixture("whaticket/message__text_number.json")
    del body["key"]["id"]
    first = provider().parse(body)[0].provider_message_id
    change(body)
    assert provider().parse(body)[0].provider_message_id != first


def test_without_message_timestamp_the_signed_timestamp_tells_repeats_apart():
    body = load_fixture("whaticket/message__relay_minimal.json")
    first, second = provider(), provider()
    first._signed_at, second._signed_at = 1747312345, 1747312999
    assert first.parse(body)[0].provider_message_id != second.parse(body)[0].provider_message_id
    again = provider()
    again._signed_at = 1747312345
    assert again.parse(body)[0].provider_message_id == first.parse(body)[0].provider_message_id


# --- every fixture, malformed bodies, routing ----------------------------------------------------------


@pytest.mark.parametrize("name", WEBHOOK_FIXTURES)
def test_every_webhook_fixture_parses(name):
    events = provider().parse(load_fixture(name))
    assert len(events) == 1
    assert isinstance(events[0], (InboundMessage, MessageEdited, MessageRevoked, Ignored))


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"message": {"conversation": "olá"}}, "payload has no number"),
        ({"message": {"conversation": "olá"}, "number": "abc"}, "payload has no number"),
        ({"message": {"conversation": "olá"}, "ticket": {"contact": {"number": ""}}}, "payload has no number"),
        ({"number": "5511900000111"}, "payload has no 'message' object"),
        ({"number": "5511900000111", "message": "olá"}, "payload has no 'message' object"),
        ({"number": "5511900000111", "message": {}, "key": "x"}, "'key' must be an object"),
        ({"number": "5511900000111", "message": {}, "ticket": []}, "'ticket' must be an object"),
        ({"number": "5511900000111", "message": {"conversation": "x"}, "key": {"id": 12}}, "'key.id' must be a string"),
    ],
    ids=["no-number", "not-a-number", "empty-ticket-number", "no-message", "message-not-object", "key", "ticket", "id"],
)
def test_malformed_bodies_are_rejected(body, error):
    with pytest.raises(WebhookRejected) as caught:
        provider().parse(body)
    assert (caught.value.status, caught.value.message) == (400, error)


def test_stub_notification_without_content_is_ignored():
    body = {"key": {"remoteJid": "5511900000101@s.whatsapp.net", "id": "X"}, "messageStubType": "CIPHERTEXT"}
    assert provider().parse(body) == [Ignored("notification without message content")]


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ({"message": {}}, None),
        ({"message": {}, "whatsappId": 3}, "3"),
        ({"message": {}, "whatsappId": " 7 "}, "7"),
        ({"message": {}, "ticket": {"whatsappId": 2}}, "2"),
        ({"message": {}, "whatsappId": 5, "ticket": {"whatsappId": 2}}, "5"),
        ({"message": {}, "whatsappId": "", "ticket": {"whatsappId": 2}}, "2"),
    ],
)
def test_route_key_is_the_connection_id_when_the_body_has_one(body, key):
    assert WhaticketProvider.route_key(body) == key


@pytest.mark.parametrize("value", [True, 2.5, {"id": 2}, [2]])
def test_route_key_of_the_wrong_type_is_rejected(value):
    with pytest.raises(WebhookRejected) as caught:
        WhaticketProvider.route_key({"whatsappId": value})
    assert caught.value.status == 400


def test_fixture_route_keys():
    keys = {name: WhaticketProvider.route_key(load_fixture(name)) for name in WEBHOOK_FIXTURES}
    assert keys["whaticket/message__extended_text_reply_ticket.json"] == "2"
    assert keys["whaticket/message__list_response.json"] == "3"
    assert keys["whaticket/message__text_number.json"] is None


def test_an_encrypted_edit_is_no_new_message():
    assert parse("message__baileys_secret_encrypted_edit") == [
        Ignored("an encrypted edit of an earlier message: its new text cannot be read")
    ]
