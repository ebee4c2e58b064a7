"""Every Evolution payload in the fixtures, parsed into normalized events."""

from datetime import UTC, datetime

import pytest

from integrations.providers.base import (
    ConnectionUpdate,
    Contact,
    GatewayConfig,
    Ignored,
    InboundMessage,
    MessageEdited,
    MessageRevoked,
    QrUpdate,
    StatusUpdate,
    WebhookRejected,
)
from integrations.providers.evolution import EvolutionProvider, normalize_event_name
from tests.payloads import fixture_names, load_fixture

provider = EvolutionProvider(GatewayConfig(kind="evolution", base_url="http://evo.test", webhook_secret="s"))


def parse(name):
    return provider.parse(load_fixture(f"evolution/{name}.json"))


def test_v1_extended_text_is_a_text_message():
    [event] = parse("messages.upsert__extended_text_v1")
    assert event == InboundMessage(
        provider_message_id="1AECB65CE8AC2CB38486D898090B5C87",
        contact=Contact(phone="+5522900000002", push_name="Hiro Arie"),
        from_me=False,
        kind="text",
        text="Teste",
        timestamp=datetime.fromtimestamp(1707339876, tz=UTC),
        raw=event.raw,
    )


def test_v2_3_7_text_uses_message_timestamp_not_date_time():
    [event] = parse("messages.upsert__text_lid_v2_3_7")
    assert event.text == "Mensagem de teste"
    assert event.contact == Contact(phone="+5511900000005", push_name="João")
    assert event.timestamp == datetime.fromtimestamp(1785100386, tz=UTC)


def test_lid_in_remote_jid_yields_phone_and_lid():
    [event] = parse("messages.upsert__text_lid_in_remotejid_v2_3_6")
    assert event.contact.phone == "+5511900000005"
    assert event.contact.lid == "201234567890123"


def test_group_message_is_ignored():
    [event] = parse("messages.upsert__group_v1")
    assert isinstance(event, Ignored)


def test_image_is_recorded_with_its_kind_and_caption():
    [event] = parse("messages.upsert__image_caption_v2")
    assert (event.kind, event.caption, event.mime_type) == ("image", "minha conta de luz", "image/jpeg")
    assert event.text == ""


def test_from_me_message_is_flagged_and_has_no_push_name():
    [event] = parse("messages.upsert__from_me_phone_v2")
    assert event.from_me is True
    assert event.contact.push_name == ""
    assert event.text == "Oi Ana, aqui é o Pedro do comercial"


@pytest.mark.parametrize(
    ("name", "status"), [("messages.update__read_v2", "read"), ("messages.update__server_ack_v2", "sent")]
)
def test_status_updates(name, status):
    assert parse(name) == [StatusUpdate(provider_message_id="A5561E44C2A63682E4295B52F484C14E", status=status)]


def test_update_without_status_is_not_a_status():
    [event] = parse("messages.update__no_status_v2")
    assert isinstance(event, Ignored)


def test_connection_open_and_logged_out():
    assert parse("connection.update__open_v1") == [ConnectionUpdate(state="connected", reason_code=200)]
    [closed] = parse("connection.update__close_logged_out_v2")
    assert (closed.state, closed.reason_code, closed.banned) == ("logged_out", 401, True)


def test_qrcode_carries_code_and_pairing_code():
    [event] = parse("qrcode.updated__pairing_v1")
    assert isinstance(event, QrUpdate)
    assert event.pairing_code == "V37R3T7X"
    assert event.qr_code.startswith("2@xCLTLQpX")


@pytest.mark.parametrize("name", [n for n in fixture_names("evolution") if not n.split("/")[1].startswith("response.")])
def test_every_webhook_fixture_parses(name):
    events = provider.parse(load_fixture(name))
    assert events
    kinds = (InboundMessage, StatusUpdate, MessageEdited, MessageRevoked, ConnectionUpdate, QrUpdate, Ignored)
    assert all(isinstance(e, kinds) for e in events)


@pytest.mark.parametrize("event", ["MESSAGES_UPSERT", "messages.upsert", "Messages-Upsert"])
def test_event_names_are_normalized(event):
    assert normalize_event_name(event) == "MESSAGES_UPSERT"


@pytest.mark.parametrize(
    "body",
    [
        {"instance": "x"},
        {"instance": "x", "event": "messages.upsert"},
        {"instance": "x", "event": "messages.upsert", "data": "nope"},
        {"instance": "x", "event": "messages.upsert", "data": {"key": {"id": "A"}}},
        {"instance": "x", "event": "messages.update", "data": {"status": "READ"}},
        {"instance": "x", "event": "connection.update", "data": {"state": "sideways"}},
    ],
)
def test_malformed_bodies_are_rejected(body):
    with pytest.raises(WebhookRejected) as caught:
        provider.parse(body)
    assert caught.value.status == 400


def test_unused_event_is_ignored_not_rejected():
    assert provider.parse({"instance": "x", "event": "contacts.update", "data": [{}]}) == [
        Ignored("event contacts.update is not used")
    ]


@pytest.mark.parametrize("value", [[], {}, True])
def test_status_and_state_of_the_wrong_type_are_not_a_crash(value):
    update = {"instance": "x", "event": "messages.update", "data": {"keyId": "A1", "status": value}}
    assert isinstance(provider.parse(update)[0], Ignored)
    with pytest.raises(WebhookRejected):
        provider.parse({"instance": "x", "event": "connection.update", "data": {"state": value}})


def test_a_business_template_received_is_its_text():
    [event] = parse("messages.upsert__template_hydrated_v2_3_7")
    assert (event.kind, event.provider_message_id) == ("text", "WA-TPL")
    assert event.text.startswith("Chegou uma nova atualização sobre o sorteio")


def test_an_interactive_template_received_is_its_header_and_body():
    [event] = parse("messages.upsert__template_interactive_v2_3_7")
    assert event.kind == "text"
    assert event.text == (
        "Linha de Crédito\nOi, Sidinaldo. Pague o valor total pela seção “Empréstimos”: https://mpago.li/1d4Y3tK"
    )


def test_an_encrypted_edit_is_no_new_message():
    # Its new text is encrypted for the linked device: nothing to store, and above all nothing to answer.
    assert parse("messages.upsert__secret_encrypted_edit_v2_3_7") == [Ignored("system message")]
