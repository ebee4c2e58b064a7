"""Every WAHA payload in the fixtures, parsed into normalized events."""

import copy
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
    StatusUpdate,
    WebhookRejected,
)
from integrations.providers.waha import WahaProvider
from tests.payloads import fixture_names, load_fixture

provider = WahaProvider(GatewayConfig(kind="waha", base_url="http://waha.test:3000", webhook_secret="s"))
WEBHOOK_FIXTURES = [name for name in fixture_names("waha") if "/response." not in name]


def parse(name):
    return provider.parse(load_fixture(f"waha/{name}.json"))


def ts(seconds):
    return datetime.fromtimestamp(seconds, tz=UTC)


# --- message / message.any -------------------------------------------------------------------------


def test_noweb_lid_message_has_the_lid_and_no_phone():
    [event] = parse("message__noweb_lid_issue1073")
    assert event == InboundMessage(
        provider_message_id="297A4A9CC7BD7B111D49B72C8832D6D3",
        contact=Contact(phone=None, lid="4630000000355", push_name="clientefabio31"),
        from_me=False,
        kind="text",
        text="Tudo indo. Sim",
        timestamp=ts(1750699027),
        raw=event.raw,
    )


def test_message_any_lid_without_engine_data():
    [event] = parse("message.any__noweb_lid_issue1418")
    assert event == InboundMessage(
        provider_message_id="3A8E1EBFE4943CA06D82",
        contact=Contact(lid="176300000004064"),
        from_me=False,
        kind="text",
        text="Iya sist",
        timestamp=ts(1759031179),
        raw=event.raw,
    )


def test_lid_chat_with_remote_jid_alt_carries_both_identifiers():
    [event] = parse("message__noweb_lid_remotejidalt")
    # The device suffix (":3") of remoteJidAlt is dropped (waha#1443).
    assert event.contact == Contact(phone="+5511900000005", lid="201234567890123", push_name="João")
    assert (event.provider_message_id, event.text) == ("3A5C0FFEE0BADF00D123", "Quero saber o preço")


def test_gows_reply_quotes_the_bare_id_and_widens_the_legacy_brazilian_number():
    [event] = parse("message.any__gows_reply_issue331")
    assert event == InboundMessage(
        provider_message_id="3EB0F8C097D15D6986DEB7",
        contact=Contact(phone="+5585990000123"),
        from_me=False,
        kind="text",
        text="responder texto",
        quoted_id="A55C8FEA23D0DCFCCD804555305A8696",
        timestamp=ts(1774983903),
        raw=event.raw,
    )


def test_image_with_caption_takes_kind_from_the_stored_file_and_chat_from_the_id():
    [event] = parse("message__noweb_image_caption_n8n_pinned")
    assert event == InboundMessage(
        provider_message_id="6738E65C1C0E65591F2739658FC18A26",
        # `from` says 79069571990 but the id and _data.key say 79069471990: the id wins.
        contact=Contact(phone="+79069471990", push_name="Sim1"),
        from_me=False,
        kind="image",
        caption="Hi there's!",
        mime_type="image/jpeg",
        media_url="https://github.com/devlikeapro/waha/raw/core/examples/dev.likeapro.jpg",
        timestamp=ts(1727252030),
        raw=event.raw,
    )


def test_document_from_the_docs():
    [event] = parse("message__docs_document_pdf")
    assert (event.kind, event.mime_type, event.file_name) == ("document", "application/pdf", "some-file.pdf")
    assert event.media_url == (
        "http://localhost:3000/api/files/true_11111111111@c.us_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.pdf"
    )
    assert (event.text, event.caption) == ("", "")
    assert event.from_me is True  # the id says `true_`
    assert event.provider_message_id == "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"


def test_own_message_typed_on_the_phone_is_from_me_but_not_sent_by_api():
    [event] = parse("message__docs_fromme_app_webjs")
    assert event == InboundMessage(
        provider_message_id="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        contact=Contact(phone="+11111111111"),
        from_me=True,
        kind="text",
        text="Hi there!",
        timestamp=ts(1667561485),
        sent_by_api=False,
        raw=event.raw,
    )


def test_api_echo_is_from_me_sent_by_api_and_shares_the_send_answer_id():
    [event] = parse("message.any__noweb_fromme_api")
    sent = load_fixture("waha/response.sendText__noweb_issue760.json")
    assert event.provider_message_id == sent["key"]["id"] == "3EB08A6895830F110A5E4D"
    assert (event.from_me, event.sent_by_api) == (True, True)
    assert event.contact == Contact(phone="+5511900000002")  # no push name on our own messages


def test_group_message_is_ignored():
    assert parse("message__noweb_group_issue1055") == [Ignored("group, broadcast, status or channel message")]


def test_message_and_message_any_of_one_message_parse_to_the_same_id():
    body = load_fixture("waha/message__noweb_lid_issue1073.json")
    [first] = provider.parse(body)
    [second] = provider.parse({**body, "event": "message.any"})
    assert first.provider_message_id == second.provider_message_id == "297A4A9CC7BD7B111D49B72C8832D6D3"


def webjs_message(**payload):
    base = {
        "id": "false_5511900000001@c.us_3EB0AAAA",
        "timestamp": 1700000000,
        "from": "5511900000001@c.us",
        "fromMe": False,
        "to": "5511900000009@c.us",
        "body": "",
        "hasMedia": False,
        "_data": {"notifyName": "Maria"},
    }
    base.update(payload)
    return {"event": "message", "session": "acme-01", "engine": "WEBJS", "payload": base}


def test_webjs_push_name_is_the_notify_name():
    [event] = provider.parse(webjs_message(body="Oi"))
    assert event.contact == Contact(phone="+5511900000001", push_name="Maria")


def test_webjs_own_message_takes_the_chat_from_the_id_not_from():
    body = webjs_message(id="true_5511900000001@c.us_3EB0BBBB", fromMe=True, body="Olá")
    body["payload"].update({"from": "5511900000009@c.us", "to": "5511900000001@c.us"})
    [event] = provider.parse(body)
    assert event.contact == Contact(phone="+5511900000001")


@pytest.mark.parametrize(
    ("chat", "reason"),
    [
        ("120363000000000001@g.us", "group"),
        ("status@broadcast", "status"),
        ("120363000000000002@newsletter", "channel"),
    ],
)
def test_non_contact_chats_are_ignored(chat, reason):
    body = webjs_message(id=f"false_{chat}_3EB0CCCC", body="x")
    body["payload"]["from"] = chat
    [event] = provider.parse(body)
    assert isinstance(event, Ignored), reason


def test_webjs_location_uses_the_description_not_the_thumbnail_body():
    body = webjs_message(body="/9j/4AAQSkZJRg==", location={"latitude": "-23.55", "longitude": "-46.63"})
    body["payload"]["location"]["description"] = "Av. Paulista"
    body["payload"]["_data"]["type"] = "location"
    [event] = provider.parse(body)
    assert (event.kind, event.latitude, event.longitude, event.text) == ("location", -23.55, -46.63, "Av. Paulista")


def test_webjs_voice_note_is_audio_with_its_media():
    media = {"url": "http://localhost:3000/api/files/acme-01/3EB0DDDD.oga", "mimetype": "audio/ogg; codecs=opus"}
    body = webjs_message(id="false_5511900000001@c.us_3EB0DDDD", hasMedia=True, media=media)
    body["payload"]["_data"]["type"] = "ptt"
    [event] = provider.parse(body)
    assert (event.kind, event.mime_type, event.media_url) == ("audio", "audio/ogg; codecs=opus", media["url"])


def test_webjs_system_notification_is_ignored():
    body = webjs_message()
    body["payload"]["_data"]["type"] = "e2e_notification"
    assert provider.parse(body) == [Ignored("system message")]


def test_noweb_contact_card_and_quoted_message():
    body = webjs_message(body="", vCards=["BEGIN:VCARD\nVERSION:3.0\nFN:Ana Souza\nEND:VCARD"])
    body["payload"]["_data"] = {
        "key": {"remoteJid": "5511900000001@s.whatsapp.net", "fromMe": False, "id": "3EB0EEEE"},
        "pushName": "Maria",
        "message": {"contactMessage": {"displayName": "Ana Souza", "contextInfo": {"stanzaId": "3EB0QUOTED"}}},
    }
    [event] = provider.parse(body)
    assert (event.kind, event.text, event.quoted_id) == ("contact", "Ana Souza", "3EB0QUOTED")


def test_noweb_protocol_message_is_ignored_and_context_only_content_is_not():
    body = webjs_message(body="")
    body["payload"]["_data"] = {"message": {"protocolMessage": {"type": 0}, "messageContextInfo": {}}}
    assert provider.parse(body) == [Ignored("system message")]
    body = webjs_message(body="oi")
    body["payload"]["_data"] = {"message": {"messageContextInfo": {}}}
    [event] = provider.parse(body)
    assert (event.kind, event.text) == ("text", "oi")


def test_media_not_downloaded_keeps_the_content_kind_without_url():
    # hasMedia with media null: WAHA did not download the file (its config); the kind still shows.
    body = webjs_message(body="foto", hasMedia=True, media=None)
    body["payload"]["_data"] = {"message": {"imageMessage": {"mimetype": "image/jpeg", "caption": "foto"}}}
    [event] = provider.parse(body)
    assert (event.kind, event.caption, event.mime_type, event.media_url) == ("image", "foto", "image/jpeg", "")


def test_serialized_reply_to_id_is_reduced_to_the_bare_id():
    [event] = provider.parse(webjs_message(body="sim", replyTo={"id": "true_5511900000001@c.us_3EB0QUOTED2"}))
    assert event.quoted_id == "3EB0QUOTED2"


def test_ms_timestamps_are_normalized_and_the_envelope_time_is_a_fallback():
    [ms] = provider.parse(webjs_message(body="a", timestamp=1700000000123))
    assert ms.timestamp == ts(1700000000)
    body = webjs_message(body="b", timestamp=None)
    body["timestamp"] = 1700000005000
    [fallback] = provider.parse(body)
    assert fallback.timestamp == ts(1700000005)


# --- reactions, acks, edits, revokes ----------------------------------------------------------------


def test_reaction_points_at_the_reacted_message():
    [event] = parse("message.reaction__docs_webjs")
    assert event == InboundMessage(
        provider_message_id="11111111111111111111111111111111",
        contact=Contact(phone="+79111111"),
        from_me=False,
        kind="reaction",
        text="🙏",
        quoted_id="11111111111111111111111111111111",
        timestamp=ts(1710481111),
        raw=event.raw,
    )


def test_removed_reaction_is_ignored():
    body = load_fixture("waha/message.reaction__docs_webjs.json")
    body["payload"]["reaction"]["text"] = ""
    assert provider.parse(body) == [Ignored("reaction removed")]


def test_ack_read():
    assert parse("message.ack__docs_read_webjs") == [
        StatusUpdate(
            provider_message_id="4CC5EDD64BC22EBA6D639F2AF571346C",
            status="read",
            recipient=Contact(phone="+11111111111"),
        )
    ]


@pytest.mark.parametrize("name", ["message.ack__group_docs_webjs", "message.ack.group__docs_webjs"])
def test_group_acks_are_ignored(name):
    assert parse(name) == [Ignored("ack in a group, broadcast or channel")]


@pytest.mark.parametrize(
    ("ack", "ack_name", "status"),
    [
        (-1, "ERROR", "failed"),
        (1, "SERVER", "sent"),
        (2, "DEVICE", "delivered"),
        (3, "READ", "read"),
        (4, "PLAYED", "played"),
    ],
)
def test_ack_values(ack, ack_name, status):
    body = load_fixture("waha/message.ack__docs_read_webjs.json")
    body["payload"].update(ack=ack, ackName=ack_name)
    [event] = provider.parse(body)
    assert (event.provider_message_id, event.status) == ("4CC5EDD64BC22EBA6D639F2AF571346C", status)
    assert bool(event.error) == (status == "failed")
    body["payload"].pop("ack")  # the name alone is enough
    assert provider.parse(body)[0].status == status


def test_pending_ack_and_acks_of_received_messages_are_not_statuses():
    body = load_fixture("waha/message.ack__docs_read_webjs.json")
    body["payload"].update(ack=0, ackName="PENDING")
    assert provider.parse(body) == [Ignored("message pending")]
    body["payload"].update(ack=3, ackName="READ", fromMe=False, id="false_11111111111@c.us_4CC5")
    assert provider.parse(body) == [Ignored("ack of a message we received")]


def test_edit_targets_the_edited_message():
    assert parse("message.edited__docs") == [MessageEdited(provider_message_id="AAAAAAAAAAAAAAAA", text="New body")]


def test_revoke_targets_the_revoked_message():
    assert parse("message.revoked__docs") == [MessageRevoked(provider_message_id="AAAAAAAAAAAAAAAA")]


def test_revoke_without_revoked_message_id_falls_back_to_before():
    body = load_fixture("waha/message.revoked__docs.json")
    del body["payload"]["revokedMessageId"]
    body["payload"]["before"] = {"id": "false_1231243123@c.us_CCCCCCCC"}
    assert provider.parse(body) == [MessageRevoked(provider_message_id="CCCCCCCC")]


# --- session.status ---------------------------------------------------------------------------------


def test_session_working_is_connected():
    assert parse("session.status__docs_working_webjs") == [ConnectionUpdate(state="connected", detail="WORKING")]


def test_scan_qr_code_is_the_qr_state():
    assert parse("session.status__scan_qr_webjs_n8n_pinned") == [ConnectionUpdate(state="qr", detail="SCAN_QR_CODE")]


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("STOPPED", "disconnected"),
        ("STARTING", "connecting"),
        ("FAILED", "disconnected"),
        ("PASSKEY_REQUIRED", "pairing"),
    ],
)
def test_session_states(status, state):
    body = {"event": "session.status", "session": "acme-01", "payload": {"status": status}}
    assert provider.parse(body) == [ConnectionUpdate(state=state, detail=status)]


# --- the whole corpus, malformed bodies, unused events -----------------------------------------------


@pytest.mark.parametrize("name", WEBHOOK_FIXTURES)
def test_every_webhook_fixture_parses_and_routes(name):
    body = load_fixture(name)
    assert WahaProvider.route_key(body) == body["session"]
    events = provider.parse(copy.deepcopy(body))
    assert events


@pytest.mark.parametrize(
    "body",
    [
        {"session": "x"},
        {"session": "x", "event": "message"},
        {"session": "x", "event": "message", "payload": "nope"},
        {"session": "x", "event": "message", "payload": {"from": "5511900000001@c.us", "body": "no id"}},
        {"session": "x", "event": "message", "payload": {"id": "3EB0FFFF", "body": "no chat"}},
        {"session": "x", "event": "message.ack", "payload": {"ack": 3}},
        {"session": "x", "event": "message.ack", "payload": {"id": "true_5511900000001@c.us_A", "ack": 9}},
        {"session": "x", "event": "message.reaction", "payload": {"id": "false_5511900000001@c.us_A"}},
        {"session": "x", "event": "message.revoked", "payload": {"before": None}},
        {"session": "x", "event": "session.status", "payload": {"statuses": []}},
    ],
)
def test_malformed_bodies_are_rejected(body):
    with pytest.raises(WebhookRejected) as caught:
        provider.parse(body)
    assert caught.value.status == 400


@pytest.mark.parametrize("body", [{"event": "message"}, {"event": "message", "session": ""}, {"session": 3}])
def test_body_without_session_cannot_be_routed(body):
    with pytest.raises(WebhookRejected) as caught:
        WahaProvider.route_key(body)
    assert caught.value.status == 400


def test_unused_events_are_ignored_not_rejected():
    body = {"event": "presence.update", "session": "x", "payload": {"id": "5511900000001@c.us"}}
    assert provider.parse(body) == [Ignored("event presence.update is not used")]
    status = {"event": "session.status", "session": "x", "payload": {"status": "SOMETHING_NEW"}}
    assert provider.parse(status) == [Ignored("session status SOMETHING_NEW is not used")]


def test_an_edit_waha_could_not_read_does_not_blank_the_message():
    # NOWEB passes a contact's encrypted edit through with an empty body: applied, the text would be "".
    body = load_fixture("waha/message.edited__noweb_secret_encrypted_issue2168.json")
    assert provider.parse(body) == [Ignored("an encrypted edit of an earlier message: its new text cannot be read")]


def test_an_encrypted_edit_arriving_as_a_message_is_no_new_message():
    body = load_fixture("waha/message__noweb_secret_encrypted_edit_issue2072.json")
    assert provider.parse(body) == [Ignored("system message")]
