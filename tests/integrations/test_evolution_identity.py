"""Who a message is from: every Evolution @lid shape, and who sent our own messages (phone or API)."""

import copy

import pytest

from integrations.providers.base import Contact, GatewayConfig, InboundMessage
from integrations.providers.evolution import EvolutionProvider
from tests.payloads import load_fixture

provider = EvolutionProvider(GatewayConfig(kind="evolution", base_url="http://evo.test", webhook_secret="s"))
BOTH = Contact(phone="+5511900000005", lid="201234567890123", push_name="João")


def parse_one(name):
    [event] = provider.parse(load_fixture(f"evolution/{name}.json"))
    assert isinstance(event, InboundMessage)
    return event


@pytest.mark.parametrize(
    "name",
    [
        "messages.upsert__text_senderpn_v2_3_0",  # lid in remoteJid, phone in key.senderPn
        "messages.upsert__text_lid_in_remotejid_v2_3_6",  # lid in remoteJid, phone in remoteJidAlt
        "messages.upsert__text_pn_swapped_v2_4",  # phone in remoteJid, lid in remoteJidAlt, addressingMode pn
    ],
)
def test_phone_and_lid_shapes_yield_one_contact_with_both(name):
    assert parse_one(name).contact == BOTH


def test_v2_3_7_phone_in_both_fields_yields_the_phone():
    assert parse_one("messages.upsert__text_lid_v2_3_7").contact == Contact(phone="+5511900000005", push_name="João")


def test_lid_only_message_has_no_phone_but_is_kept():
    event = parse_one("messages.upsert__text_lid_only_v2_3_6")
    assert event.contact == Contact(phone=None, lid="209876543210987", push_name="Carla")
    assert event.contact.known
    assert (event.kind, event.text, event.provider_message_id) == ("text", "Qual o preço?", "3A9F8E7D6C5B4A392817")


def test_device_suffix_and_brazilian_eight_digit_mobile_are_normalized():
    body = copy.deepcopy(load_fixture("evolution/messages.upsert__text_lid_in_remotejid_v2_3_6.json"))
    body["data"]["key"]["remoteJidAlt"] = "551187654321:12@s.whatsapp.net"
    [event] = provider.parse(body)
    assert event.contact == Contact(phone="+5511987654321", lid="201234567890123", push_name="João")


def test_send_message_echo_is_ours_sent_by_api_with_the_send_answer_id():
    event = parse_one("send.message__text_v2_3_7")
    answer = load_fixture("evolution/response.sendText__v2_3_7.json")
    assert event.provider_message_id == answer["key"]["id"] == "3EB0F1A2B3C4D5E6F70819"
    assert (event.from_me, event.sent_by_api, event.kind) == (True, True, "text")
    assert event.text == "Olá Ana! Posso te ajudar com a sua conta?"
    assert event.contact == Contact(phone="+5511900000007")  # no "Você" push name for our own number


def test_send_message_is_ours_even_if_the_key_omits_from_me():
    body = copy.deepcopy(load_fixture("evolution/send.message__text_v2_3_7.json"))
    del body["data"]["key"]["fromMe"]
    [event] = provider.parse(body)
    assert (event.from_me, event.sent_by_api) == (True, True)


def test_from_me_upsert_with_a_current_baileys_id_is_not_known_to_be_api():
    # 3EB0 + 18 hex: WhatsApp Web and Baileys >= 6.7.5 (the API) both make these ids.
    event = parse_one("messages.upsert__from_me_web_v2")
    assert (event.from_me, event.sent_by_api, event.text) == (True, False, "fala doto")
    assert event.contact == Contact(phone="+5585990000003")


def test_from_me_upsert_typed_on_the_phone_is_not_api():
    event = parse_one("messages.upsert__from_me_phone_v2")
    assert (event.from_me, event.sent_by_api) == (True, False)


def test_from_me_upsert_with_a_legacy_baileys_id_is_api():
    body = copy.deepcopy(load_fixture("evolution/messages.upsert__from_me_phone_v2.json"))
    body["data"]["key"]["id"] = "BAE55A31F9329575"  # the id shape of response.sendText__v1.json
    [event] = provider.parse(body)
    assert (event.from_me, event.sent_by_api) == (True, True)


def test_legacy_looking_id_from_the_contact_is_not_api():
    body = copy.deepcopy(load_fixture("evolution/messages.upsert__image_caption_v2.json"))
    body["data"]["key"]["id"] = "BAE55A31F9329575"
    [event] = provider.parse(body)
    assert (event.from_me, event.sent_by_api) == (False, False)
