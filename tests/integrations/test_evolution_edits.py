"""Evolution edits, revokes and deletions: never a delivery status, always the original message's id."""

import copy

import pytest

from integrations.providers.base import (
    GatewayConfig,
    Ignored,
    MessageEdited,
    MessageRevoked,
    StatusUpdate,
    WebhookRejected,
)
from integrations.providers.evolution import EvolutionProvider
from tests.payloads import load_fixture

provider = EvolutionProvider(GatewayConfig(kind="evolution", base_url="http://evo.test", webhook_secret="s"))
ORIGINAL = "3EB0C0FFEE1234567890"


def parse(name):
    return provider.parse(load_fixture(f"evolution/{name}.json"))


def test_messages_edited_carries_the_original_id_and_the_new_text():
    assert parse("messages.edited__text_v2_3_7") == [
        MessageEdited(provider_message_id=ORIGINAL, text="minha conta de luz de julho")
    ]


def test_messages_edited_with_a_revoke_protocol_message_is_a_revoke():
    assert parse("messages.edited__revoke_v2_3_7") == [MessageRevoked(provider_message_id=ORIGINAL)]


@pytest.mark.parametrize(("kind", "expected"), [(0, "revoked"), (14, "edited"), ("MESSAGE_EDIT", "edited")])
def test_numeric_and_named_protocol_types(kind, expected):
    body = copy.deepcopy(load_fixture("evolution/messages.edited__text_v2_3_7.json"))
    body["data"]["type"] = kind
    [event] = provider.parse(body)
    assert isinstance(event, MessageRevoked if expected == "revoked" else MessageEdited)
    assert event.provider_message_id == ORIGINAL


def test_edit_of_a_caption():
    body = copy.deepcopy(load_fixture("evolution/messages.edited__text_v2_3_7.json"))
    body["data"]["editedMessage"] = {"imageMessage": {"caption": "conta de agosto"}}
    assert provider.parse(body) == [MessageEdited(provider_message_id=ORIGINAL, text="conta de agosto")]


def test_edit_of_an_extended_text():
    body = copy.deepcopy(load_fixture("evolution/messages.edited__text_v2_3_7.json"))
    body["data"]["editedMessage"] = {"extendedTextMessage": {"text": "veja https://example.com"}}
    assert provider.parse(body) == [MessageEdited(provider_message_id=ORIGINAL, text="veja https://example.com")]


@pytest.mark.parametrize("kind", ["HISTORY_SYNC_NOTIFICATION", "EPHEMERAL_SETTING", 6])
def test_other_protocol_messages_are_ignored(kind):
    body = {"event": "messages.edited", "instance": "acme-01", "data": {"key": {"id": "X"}, "type": kind}}
    [event] = provider.parse(body)
    assert isinstance(event, Ignored)


def test_edit_in_a_group_is_ignored():
    body = copy.deepcopy(load_fixture("evolution/messages.edited__text_v2_3_7.json"))
    body["data"]["key"]["remoteJid"] = "120363193643042227@g.us"
    [event] = provider.parse(body)
    assert isinstance(event, Ignored)


def test_edit_without_text_is_ignored_not_an_empty_text():
    body = copy.deepcopy(load_fixture("evolution/messages.edited__text_v2_3_7.json"))
    body["data"]["editedMessage"] = {"messageContextInfo": {}}
    [event] = provider.parse(body)
    assert isinstance(event, Ignored)


def test_send_message_update_our_own_edit():
    body = copy.deepcopy(load_fixture("evolution/messages.edited__text_v2_3_7.json"))
    body["event"] = "send.message.update"
    assert provider.parse(body) == [MessageEdited(provider_message_id=ORIGINAL, text="minha conta de luz de julho")]


def test_upsert_shaped_edit_event_uses_the_content_as_the_new_text():
    body = {
        "event": "messages.edited",
        "instance": "acme-01",
        "data": {
            "key": {"remoteJid": "5511900000007@s.whatsapp.net", "fromMe": False, "id": ORIGINAL},
            "message": {"conversation": "texto novo"},
            "status": "EDITED",
        },
    }
    assert provider.parse(body) == [MessageEdited(provider_message_id=ORIGINAL, text="texto novo")]


@pytest.mark.parametrize(
    ("name", "message_id"),
    [("messages.delete__revoke_v2_3_7", ORIGINAL), ("messages.delete__revoke_v2_3_6", "3EB0A1B2C3D4E5F60718")],
)
def test_messages_delete_is_a_revoke(name, message_id):
    assert parse(name) == [MessageRevoked(provider_message_id=message_id)]


def test_delete_in_a_group_is_ignored():
    body = copy.deepcopy(load_fixture("evolution/messages.delete__revoke_v2_3_7.json"))
    body["data"]["remoteJid"] = "120363193643042227@g.us"
    [event] = provider.parse(body)
    assert isinstance(event, Ignored)


def test_v2_3_7_edit_update_is_an_edit_not_a_sent_status():
    events = parse("messages.update__edit_server_ack_v2_3_7")
    assert events == [MessageEdited(provider_message_id=ORIGINAL, text="minha conta de luz de julho")]
    assert not any(isinstance(e, StatusUpdate) for e in events)


def test_deleted_update_stays_ignored():
    [event] = parse("messages.update__deleted_v2_3_6")
    assert isinstance(event, Ignored)


def test_v1_upsert_with_protocol_edit_is_an_edit_of_the_original():
    assert parse("messages.upsert__protocol_edit_v1") == [
        MessageEdited(provider_message_id="3EB05C0B7B1A0C12284EE0", text="blablabla2")
    ]


def test_v1_upsert_with_edited_message_wrapper():
    body = copy.deepcopy(load_fixture("evolution/messages.upsert__protocol_edit_v1.json"))
    protocol = body["data"]["message"].pop("protocolMessage")
    body["data"]["message"]["editedMessage"] = {"message": {"protocolMessage": protocol}}
    body["data"]["messageType"] = "editedMessage"
    assert provider.parse(body) == [MessageEdited(provider_message_id="3EB05C0B7B1A0C12284EE0", text="blablabla2")]


def test_v1_upsert_with_revoke():
    body = copy.deepcopy(load_fixture("evolution/messages.upsert__protocol_edit_v1.json"))
    body["data"]["message"]["protocolMessage"] = {
        "key": {"remoteJid": "351210000013@s.whatsapp.net", "fromMe": True, "id": "3EB05C0B7B1A0C12284EE0"},
        "type": "REVOKE",
    }
    assert provider.parse(body) == [MessageRevoked(provider_message_id="3EB05C0B7B1A0C12284EE0")]


def test_edited_wrapper_without_the_target_id_is_ignored():
    body = copy.deepcopy(load_fixture("evolution/messages.upsert__protocol_edit_v1.json"))
    body["data"]["message"] = {"editedMessage": {"message": {"conversation": "Bom dia, tudo bem?"}}}
    [event] = provider.parse(body)
    assert isinstance(event, Ignored)


@pytest.mark.parametrize(
    "body",
    [
        {"instance": "x", "event": "messages.edited", "data": {"type": "MESSAGE_EDIT"}},
        {"instance": "x", "event": "messages.edited", "data": {"key": {"remoteJid": "1@s.whatsapp.net"}, "type": 0}},
        {"instance": "x", "event": "messages.delete", "data": {"remoteJid": "1@s.whatsapp.net", "fromMe": False}},
        {"instance": "x", "event": "messages.delete", "data": "nope"},
    ],
    ids=["edit-no-key", "revoke-no-id", "delete-no-id", "delete-not-object"],
)
def test_malformed_edit_and_delete_bodies_are_rejected(body):
    with pytest.raises(WebhookRejected) as caught:
        provider.parse(body)
    assert caught.value.status == 400
