"""Every Z-API payload in the fixtures, parsed into normalized events (exact), and the edge cases."""

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
from integrations.providers.zapi import ZapiProvider
from tests.payloads import fixture_names, load_fixture

provider = ZapiProvider(GatewayConfig(kind="zapi", base_url="https://api.z-api.io", webhook_secret="s"))

DOCS_ID = "A20DA9C0183A2D35A260F53F5D2B9244"  # the docs reuse the instance id as message id
DOCS_CONTACT = Contact(phone="+5544999999999", lid="81896604192873", push_name="name")
DOCS_RECIPIENT = Contact(phone="+5544999999999")
REAL_MEDIA = "https://f004.backblazeb2.com/file/temp-file-download/instances/3E6D0000000000000000000000000001"
GROUP_OR_BROADCAST = Ignored("group, broadcast, status or channel message")
STATUS_NOT_ONE_TO_ONE = Ignored("status of a group, broadcast or status message")


def at(momment_ms):
    return datetime.fromtimestamp(momment_ms // 1000, tz=UTC)


def message(name, **fields):
    """The InboundMessage a ReceivedCallback fixture must give: fields not named are the defaults."""
    return InboundMessage(raw=load_fixture(f"zapi/{name}.json"), **fields)


def docs_message(name, **fields):
    """A customer's message of the docs' examples: their id and contact, with these fields."""
    return message(name, provider_message_id=DOCS_ID, contact=DOCS_CONTACT, from_me=False, **fields)


def statuses(ids, status, recipient):
    return [StatusUpdate(provider_message_id=i, status=status, recipient=recipient) for i in ids]


EXPECTED = {
    # --- ReceivedCallback: docs examples -------------------------------------------------------------
    "ReceivedCallback__text": lambda n: [
        message(
            n,
            provider_message_id=DOCS_ID,
            contact=DOCS_CONTACT,
            from_me=False,
            kind="text",
            text="teste",
            timestamp=at(1632228638000),
        )
    ],
    "ReceivedCallback__image": lambda n: [
        message(
            n,
            provider_message_id=DOCS_ID,
            contact=DOCS_CONTACT,
            from_me=False,
            kind="image",
            mime_type="image/jpeg",
            media_url="https://",
            timestamp=at(1632228828000),
        )
    ],
    "ReceivedCallback__audio": lambda n: [
        message(
            n,
            provider_message_id=DOCS_ID,
            contact=DOCS_CONTACT,
            from_me=False,
            kind="audio",
            mime_type="audio/ogg; codecs=opus",
            media_url="https://",
            timestamp=at(1632228849000),
        )
    ],
    "ReceivedCallback__video": lambda n: [
        message(
            n,
            provider_message_id=DOCS_ID,
            contact=DOCS_CONTACT,
            from_me=False,
            kind="video",
            mime_type="video/mp4",
            media_url="https://",
            timestamp=at(1632228889000),
        )
    ],
    "ReceivedCallback__ptv_from_me": lambda n: [
        # Our own message: senderLid and senderName are about us, so neither lands on the contact.
        message(
            n,
            provider_message_id=DOCS_ID,
            contact=Contact(phone="+5544999999999"),
            from_me=True,
            kind="video",
            mime_type="video/mp4",
            media_url="https://",
            timestamp=at(1688496074000),
        )
    ],
    "ReceivedCallback__document": lambda n: [
        message(
            n,
            provider_message_id=DOCS_ID,
            contact=DOCS_CONTACT,
            from_me=False,
            kind="document",
            mime_type="application/pdf",
            file_name="nome.pdf",
            media_url="https://",
            timestamp=at(1632228955000),
        )
    ],
    "ReceivedCallback__location": lambda n: [
        message(
            n,
            provider_message_id=DOCS_ID,
            contact=DOCS_CONTACT,
            from_me=False,
            kind="location",
            latitude=-99.9999999999999999,
            longitude=-99.999999999999999,
            timestamp=at(1632228970000),
        )
    ],
    "ReceivedCallback__sticker": lambda n: [
        message(
            n,
            provider_message_id=DOCS_ID,
            contact=DOCS_CONTACT,
            from_me=False,
            kind="sticker",
            mime_type="image/webp",
            media_url="https://",
            timestamp=at(1632228982000),
        )
    ],
    "ReceivedCallback__contact": lambda n: [
        message(
            n,
            provider_message_id=DOCS_ID,
            contact=DOCS_CONTACT,
            from_me=False,
            kind="contact",
            text="Cesar Baleco",
            timestamp=at(1632228925000),
        )
    ],
    "ReceivedCallback__reaction": lambda n: [
        message(
            n,
            provider_message_id=DOCS_ID,
            contact=DOCS_CONTACT,
            from_me=False,
            kind="reaction",
            text="❤️",
            quoted_id="3EB0796DC6B777C0C7CD",
            timestamp=at(1632228955000),
        )
    ],
    "ReceivedCallback__buttons_response": lambda n: [
        message(
            n,
            provider_message_id=DOCS_ID,
            contact=Contact(phone="+5544999999999", lid="81896604192873", push_name="Nome"),
            from_me=False,
            kind="interactive",
            text="Ótimo",
            quoted_id=DOCS_ID,
            timestamp=at(1634645380000),
        )
    ],
    "ReceivedCallback__list_response": lambda n: [
        message(
            n,
            provider_message_id=DOCS_ID,
            contact=Contact(phone="+5544999999999", lid="81896604192873", push_name="Nome"),
            from_me=False,
            kind="interactive",
            text="Z-API",
            quoted_id=DOCS_ID,
            timestamp=at(1634645683000),
        )
    ],
    "ReceivedCallback__text_from_ad_fixed": lambda n: [
        message(
            n,
            provider_message_id=DOCS_ID,
            contact=DOCS_CONTACT,
            from_me=False,
            kind="text",
            text="mensagem recebida",
            timestamp=at(1657209752000),
        )
    ],
    "ReceivedCallback__template_text_chatlid": lambda n: [
        # chatLid instead of senderLid; senderName is the bare number, so no push name.
        message(
            n,
            provider_message_id="702CC5F7E0A6BF4421",
            contact=Contact(phone="+5544999999999", lid="81896604192873"),
            from_me=False,
            kind="text",
            text="texto da mensagem",
            timestamp=at(1708457193876),
        )
    ],
    "ReceivedCallback__status_reply": lambda n: [
        # A reply to our WhatsApp Status arrives in the one-to-one chat: a message quoting the status.
        message(
            n,
            provider_message_id=DOCS_ID,
            contact=DOCS_CONTACT,
            from_me=False,
            kind="text",
            text="teste",
            quoted_id="3EB054C12BAAC70228AAB6",
            timestamp=at(1632228638000),
        )
    ],
    "ReceivedCallback__group_event": lambda n: [GROUP_OR_BROADCAST],
    "ReceivedCallback__broadcast_list": lambda n: [GROUP_OR_BROADCAST],
    "ReceivedCallback__waiting_message": lambda n: [Ignored("message still waiting for its content")],
    "ReceivedCallback__notification_profile_name": lambda n: [Ignored("notification PROFILE_NAME_UPDATED")],
    # --- ReceivedCallback: built from the docs (see README) -------------------------------------------
    "ReceivedCallback__text_edited": lambda n: [
        MessageEdited(provider_message_id=DOCS_ID, text="teste (editado)"),
        MessageEdited(provider_message_id="3A3CE53A833B0825DF30", text="teste (editado)"),
    ],
    "ReceivedCallback__text_lid_only": lambda n: [
        message(
            n,
            provider_message_id=DOCS_ID,
            contact=Contact(lid="65998849469", push_name="name"),
            from_me=False,
            kind="text",
            text="teste",
            timestamp=at(1632228638000),
        )
    ],
    "ReceivedCallback__text_from_api": lambda n: [
        message(
            n,
            provider_message_id="D241XXXX732339502B68",
            contact=Contact(phone="+5544999999999", lid="81896604192873"),
            from_me=True,
            sent_by_api=True,
            kind="text",
            text="Olá! Como posso ajudar?",
            timestamp=at(1632228638000),
        )
    ],
    # --- ReceivedCallback: real captures (identities replaced) ---------------------------------------
    "ReceivedCallback__text_from_me_chatlid_real": lambda n: [
        message(
            n,
            provider_message_id="A5E27BB3F40720F2C4ACAC815C1D0C4F",
            contact=Contact(phone="+5573990000001", lid="200000000000001"),
            from_me=True,
            kind="text",
            text="Boa",
            quoted_id="ACCA2933054CBACC7E44D6D5611D2F46",
            timestamp=at(1757390475000),
        )
    ],
    "ReceivedCallback__audio_ptt_chatlid_real": lambda n: [
        message(
            n,
            provider_message_id="AC3B094AD7F9A3F9C6F7F90B9D8AA5C4",
            contact=Contact(phone="+5585990000004", lid="20000000000003", push_name="Contato 5"),
            from_me=False,
            kind="audio",
            mime_type="audio/ogg; codecs=opus",
            media_url=f"{REAL_MEDIA}/AC3B094AD7F9A3F9C6F7F90B9D8AA5C4/AAAAAAAAAAAAAAAAAAAAAA==.ogg",
            timestamp=at(1757371506000),
        )
    ],
    "ReceivedCallback__document_chatlid_real": lambda n: [
        message(
            n,
            provider_message_id="3EB0C126E2E40E9DB35B59",
            contact=Contact(phone="+5521900000005", lid="200000000000004", push_name="Contato 6"),
            from_me=False,
            kind="document",
            mime_type="application/pdf",
            file_name="document.pdf",
            media_url=f"{REAL_MEDIA}/3EB0C126E2E40E9DB35B59/AAAAAAAAAAAAAAAAAAAAAA==.pdf",
            timestamp=at(1757236983000),
        )
    ],
    "ReceivedCallback__ptv_key_from_me_real": lambda n: [
        message(
            n,
            provider_message_id="3EB0E5DE6C0BE379837C4B",
            contact=Contact(phone="+5521900000005", lid="200000000000004"),
            from_me=True,
            kind="video",
            mime_type="video/mp4",
            media_url=f"{REAL_MEDIA}/3EB0E5DE6C0BE379837C4B/AAAAAAAAAAAAAAAAAAAAAA==.mp4",
            timestamp=at(1757350693000),
        )
    ],
    "ReceivedCallback__live_location_real": lambda n: [
        message(
            n,
            provider_message_id="AC2AA4B5413D8C963A96D79B4528AC0A",
            contact=Contact(phone="+5595990000006", lid="200000000000005", push_name="Contato 8"),
            from_me=False,
            kind="location",
            latitude=-22.7689133,
            longitude=-43.4315467,
            timestamp=at(1757355765000),
        )
    ],
    "ReceivedCallback__buttons_message_real": lambda n: [
        message(
            n,
            provider_message_id="155FF553193F4ABBBA",
            contact=Contact(phone="+5521900000005", lid="200000000000004"),
            from_me=False,
            kind="text",
            text="ESCOLHA O MENU!",
            timestamp=at(1757383746000),
        )
    ],
    "ReceivedCallback__notification_call_voice_real": lambda n: [Ignored("notification CALL_VOICE")],
    "ReceivedCallback__notification_revoke_real": lambda n: [MessageRevoked(provider_message_id="ABCDABCD1234")],
    "ReceivedCallback__text_group_real": lambda n: [GROUP_OR_BROADCAST],
    "ReceivedCallback__video_edit_group_real": lambda n: [GROUP_OR_BROADCAST],
    # --- MessageStatusCallback ---------------------------------------------------------------------------
    "MessageStatusCallback__sent": lambda n: statuses(["999999999999999999999"], "sent", DOCS_RECIPIENT),
    "MessageStatusCallback__received": lambda n: statuses(["999999999999999999999"], "delivered", DOCS_RECIPIENT),
    "MessageStatusCallback__read": lambda n: statuses(["999999999999999999999"], "read", DOCS_RECIPIENT),
    "MessageStatusCallback__played": lambda n: statuses(["999999999999999999999"], "played", DOCS_RECIPIENT),
    "MessageStatusCallback__read_by_me": lambda n: [Ignored("READ_BY_ME is our number reading their message")],
    "MessageStatusCallback__read_lid_real": lambda n: statuses(
        [
            "A5A23E8005F228C7F9523744BDB8DFD1",
            "A5AF4F58C9E6F740785A709D2288849F",
            "A5345F7394B409F7272C743C51541006",
            "A5CE03A089A6981229E79BFE1F6E444B",
            "A5136CB8DEA921628948DA6B8C168282",
        ],
        "read",
        Contact(lid="200000000000008"),
    ),
    "MessageStatusCallback__played_real": lambda n: statuses(
        ["148EE2843EA2E21E827D47821EFA2463", "CE7EFA57A0769DD11F85BEC2CB828E74", "C7014722DBB93277C38DDD8FAD928ACD"],
        "played",
        Contact(phone="+5521900000009"),
    ),
    "MessageStatusCallback__received_real": lambda n: statuses(
        ["A5A885568BA3AD91358295C1BAE0A092"], "delivered", Contact(phone="+5579990000010")
    ),
    "MessageStatusCallback__read_by_me_status_broadcast_real": lambda n: [STATUS_NOT_ONE_TO_ONE],
    "MessageStatusCallback__read_group_real": lambda n: [STATUS_NOT_ONE_TO_ONE],
    # --- content without text of its own: what the agent reads of it ---------------------------------------
    "ReceivedCallback__poll_docs": lambda n: [
        docs_message(
            n,
            kind="unknown",
            text="[enquete] Qual a melhor API de WhatsApp?: Z-API / Outras",
            timestamp=at(1632228638000),
        )
    ],
    "ReceivedCallback__poll_vote_docs": lambda n: [
        # A vote answers the poll: the options chosen, quoting the poll.
        docs_message(
            n,
            kind="interactive",
            text="Z-API",
            quoted_id="ID da mensagem de enquete que foi respondida",
            timestamp=at(1632228638000),
        )
    ],
    "ReceivedCallback__order_cart_docs": lambda n: [
        docs_message(n, kind="unknown", text="[pedido] 1x nameProduct", timestamp=at(1632233527000))
    ],
    "ReceivedCallback__product_docs": lambda n: [
        message(
            n,
            provider_message_id=DOCS_ID,
            contact=Contact(phone="+5544999999999", lid="81896604192873"),  # senderName is the number
            from_me=False,
            kind="unknown",
            text="[produto] name",
            timestamp=at(1632233527000),
        )
    ],
    "ReceivedCallback__pix_key_docs": lambda n: [
        message(
            n,
            provider_message_id="9D968A5FA2880508C4",
            contact=Contact(phone="+5544999999999", lid="81896604192873"),  # 8-digit mobile widened
            from_me=False,
            kind="unknown",
            text="[chave Pix] pixkey",
            timestamp=at(1708455444850),
        )
    ],
    "ReceivedCallback__request_payment_docs": lambda n: [
        docs_message(n, kind="unknown", text="[pedido de pagamento]", timestamp=at(1632229683000))
    ],
    "ReceivedCallback__send_payment_docs": lambda n: [
        docs_message(n, kind="unknown", text="[pagamento enviado]", timestamp=at(1632230512000))
    ],
    "ReceivedCallback__review_and_pay_docs": lambda n: [
        docs_message(n, kind="unknown", text="[pedido] 2x order 1, 2x order 2", timestamp=at(1632228925000))
    ],
    "ReceivedCallback__review_order_docs": lambda n: [
        docs_message(n, kind="unknown", text="[pedido] 2x order 1, 2x order 2", timestamp=at(1632228925000))
    ],
    "ReceivedCallback__carousel_docs": lambda n: [
        # Our own carousel, sent through the API: its text.
        message(
            n,
            provider_message_id=DOCS_ID,
            contact=Contact(phone="+5544999999999"),
            from_me=True,
            kind="text",
            text="Texto da mensagem",
            sent_by_api=True,
            timestamp=at(1739368022130),
        )
    ],
    "ReceivedCallback__pin_message_docs": lambda n: [Ignored("a message pinned or unpinned")],
    # --- the other callbacks ------------------------------------------------------------------------------
    "DeliveryCallback__docs": lambda n: [
        StatusUpdate(provider_message_id=DOCS_ID, status="sent", recipient=Contact(phone="+5544999999999"))
    ],
    "ConnectedCallback__docs_fixed": lambda n: [ConnectionUpdate(state="connected")],
    "ConnectedCallback__real": lambda n: [ConnectionUpdate(state="connected")],
    "DisconnectedCallback__docs": lambda n: [
        ConnectionUpdate(state="disconnected", detail="Device has been disconnected")
    ],
    "PresenceChatCallback__composing": lambda n: [Ignored("chat presence is not used")],
}

WEBHOOK_FIXTURES = [name for name in fixture_names("zapi") if "/response." not in name]


def test_every_webhook_fixture_has_an_exact_expectation():
    assert sorted(f"zapi/{name}.json" for name in EXPECTED) == WEBHOOK_FIXTURES


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_parses_to_exactly_these_events(name):
    assert provider.parse(load_fixture(f"zapi/{name}.json")) == EXPECTED[name](name)


@pytest.mark.parametrize("name", WEBHOOK_FIXTURES)
def test_every_fixture_routes_by_its_instance_id(name):
    payload = load_fixture(name)
    assert ZapiProvider.split(payload) == [(payload["instanceId"], payload)]


# --- edge cases on bodies derived from the docs' text example ----------------------------------------------


def text_body(**changes):
    body = copy.deepcopy(load_fixture("zapi/ReceivedCallback__text.json"))
    body.update(changes)
    return body


def test_image_caption_and_url_are_kept():
    body = copy.deepcopy(load_fixture("zapi/ReceivedCallback__image.json"))
    body["image"].update(caption="minha conta de luz", imageUrl="https://storage.z-api.io/img.jpeg")
    [event] = provider.parse(body)
    assert (event.kind, event.caption, event.media_url, event.text) == (
        "image",
        "minha conta de luz",
        "https://storage.z-api.io/img.jpeg",
        "",
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"isNewsletter": True, "phone": "120363166555745933@newsletter"},
        {"isNewsletter": True},
        {"phone": "120363166555745933@newsletter"},
        {"broadcast": True},
        {"phone": "1774895799-broadcast"},
        {"phone": "status@broadcast"},
        {"isGroup": True},
        {"phone": "120363019502650977-group"},
    ],
    ids=[
        "newsletter",
        "newsletter-flag",
        "newsletter-phone",
        "broadcast-flag",
        "broadcast-list",
        "status",
        "group-flag",
        "group-phone",
    ],
)
def test_non_contact_chats_are_ignored(changes):
    assert provider.parse(text_body(**changes)) == [GROUP_OR_BROADCAST]


def test_group_edit_is_ignored_before_being_an_edit():
    assert provider.parse(text_body(isGroup=True, isEdit=True)) == [GROUP_OR_BROADCAST]


def test_phone_that_is_a_lid_and_a_sender_lid_give_one_lid():
    [event] = provider.parse(text_body(phone="81896604192873@lid"))
    assert event.contact == Contact(lid="81896604192873", push_name="name")


def test_chat_lid_wins_over_sender_lid():
    [event] = provider.parse(text_body(chatLid="111111111111111@lid", senderLid="222222222222222@lid"))
    assert event.contact.lid == "111111111111111"


def test_own_sender_lid_is_not_the_contacts():
    [event] = provider.parse(text_body(fromMe=True, senderLid="999999999999999@lid"))
    assert event.contact == Contact(phone="+5544999999999")


def test_from_api_without_from_me_is_not_sent_by_api():
    [event] = provider.parse(text_body(fromApi=True))
    assert (event.from_me, event.sent_by_api) == (False, False)


def test_from_me_typed_on_the_phone_is_not_sent_by_api():
    [event] = provider.parse(text_body(fromMe=True, fromApi=False))
    assert (event.from_me, event.sent_by_api) == (True, False)


@pytest.mark.parametrize(
    ("momment", "expected"),
    [
        (1632228638000, datetime(2021, 9, 21, 12, 50, 38, tzinfo=UTC)),
        (1632228638, datetime(2021, 9, 21, 12, 50, 38, tzinfo=UTC)),
        ("1632228638000", datetime(2021, 9, 21, 12, 50, 38, tzinfo=UTC)),
        (None, None),
        ("soon", None),
        (True, None),
    ],
)
def test_momment_in_ms_or_seconds(momment, expected):
    [event] = provider.parse(text_body(momment=momment))
    assert event.timestamp == expected


def test_reply_carries_the_quoted_id():
    [event] = provider.parse(text_body(referenceMessageId="3EB0796DC6B777C0C7CD"))
    assert event.quoted_id == "3EB0796DC6B777C0C7CD"


def test_unknown_content_is_an_unknown_message():
    body = text_body(hologramMessage={"beam": "?"})
    del body["text"]
    [event] = provider.parse(body)
    assert (event.kind, event.text) == ("unknown", "")


def test_a_poll_without_options_is_its_question():
    body = text_body(poll={"question": "Vamos?", "options": []})
    del body["text"]
    [event] = provider.parse(body)
    assert (event.kind, event.text) == ("unknown", "[enquete] Vamos?")


def test_edit_without_edit_message_id_edits_its_message_id():
    assert provider.parse(text_body(isEdit=True, text={"message": "novo"})) == [
        MessageEdited(provider_message_id=DOCS_ID, text="novo")
    ]


def test_caption_edit_carries_the_new_caption():
    body = copy.deepcopy(load_fixture("zapi/ReceivedCallback__video.json"))
    body.update(isEdit=True, editMessageId="ORIGINAL")
    body["video"]["caption"] = "legenda nova"
    assert provider.parse(body) == [
        MessageEdited(provider_message_id="ORIGINAL", text="legenda nova"),
        MessageEdited(provider_message_id=DOCS_ID, text="legenda nova"),
    ]


def test_revoke_names_the_referenced_message_when_it_can():
    body = load_fixture("zapi/ReceivedCallback__notification_revoke_real.json") | {"referenceMessageId": "ORIG"}
    assert provider.parse(body) == [MessageRevoked(provider_message_id="ORIG")]


def test_notification_without_message_id_is_ignored_not_rejected():
    body = load_fixture("zapi/ReceivedCallback__notification_profile_name.json")
    assert "messageId" not in body
    assert provider.parse(body) == [Ignored("notification PROFILE_NAME_UPDATED")]


@pytest.mark.parametrize("kind", ["ReceivedCallBack", "receivedcallback"])
def test_type_is_matched_case_insensitively(kind):
    [event] = provider.parse(text_body(type=kind))
    assert isinstance(event, InboundMessage)


def test_unused_callback_type_is_ignored_not_rejected():
    assert provider.parse({"type": "SomethingNewCallback", "instanceId": "x"}) == [
        Ignored("callback SomethingNewCallback is not used")
    ]


def test_unknown_status_is_ignored_not_rejected():
    body = load_fixture("zapi/MessageStatusCallback__read.json") | {"status": "MESSAGE_RECEIVED"}
    assert provider.parse(body) == [Ignored("message status 'MESSAGE_RECEIVED' is not used")]


def test_status_with_a_single_id_field():
    body = load_fixture("zapi/MessageStatusCallback__read.json")
    del body["ids"]
    body["id"] = "ABC"
    assert provider.parse(body) == statuses(["ABC"], "read", DOCS_RECIPIENT)


def test_delivery_with_an_error_is_a_failure():
    body = load_fixture("zapi/DeliveryCallback__docs.json") | {"error": "number not on WhatsApp"}
    assert provider.parse(body) == [
        StatusUpdate(
            provider_message_id=DOCS_ID,
            status="failed",
            error="number not on WhatsApp",
            recipient=Contact(phone="+5544999999999"),
        )
    ]


def test_connected_false_is_disconnected():
    body = load_fixture("zapi/ConnectedCallback__real.json") | {"connected": False}
    assert provider.parse(body) == [ConnectionUpdate(state="disconnected")]


@pytest.mark.parametrize(
    "body",
    [
        {"instanceId": "x"},
        {"instanceId": "x", "type": 3},
        text_body(messageId=None),
        text_body(messageId=""),
        {k: v for k, v in text_body().items() if k not in ("phone", "senderLid")},
        text_body(phone="not a phone", senderLid=None),
        load_fixture("zapi/MessageStatusCallback__read.json") | {"ids": []},
        load_fixture("zapi/MessageStatusCallback__read.json") | {"ids": "999"},
        load_fixture("zapi/MessageStatusCallback__read.json") | {"ids": ["A", 7]},
        {k: v for k, v in load_fixture("zapi/MessageStatusCallback__read.json").items() if k != "ids"},
        {k: v for k, v in load_fixture("zapi/DeliveryCallback__docs.json").items() if k != "messageId"},
    ],
    ids=[
        "no-type",
        "type-not-str",
        "message-id-null",
        "message-id-empty",
        "no-phone-no-lid",
        "unusable-phone",
        "ids-empty",
        "ids-not-list",
        "ids-not-str",
        "ids-missing",
        "delivery-no-message-id",
    ],
)
def test_malformed_bodies_are_rejected(body):
    with pytest.raises(WebhookRejected) as caught:
        provider.parse(body)
    assert caught.value.status == 400


@pytest.mark.parametrize("body", [{}, {"instanceId": ""}, {"instanceId": 42}, {"instanceId": "  "}])
def test_body_without_instance_id_cannot_be_routed(body):
    with pytest.raises(WebhookRejected) as caught:
        ZapiProvider.route_key(body)
    assert caught.value.status == 400


@pytest.mark.parametrize("status", [[], {}, 3, None])
def test_a_status_of_the_wrong_type_is_not_a_crash(status):
    body = {
        "instanceId": "I1",
        "status": status,
        "ids": ["999"],
        "momment": 1632234645000,
        "phone": "5544999999999",
        "type": "MessageStatusCallback",
        "isGroup": False,
    }
    [event] = ZapiProvider(GatewayConfig(kind="zapi", base_url="https://api.z-api.io")).parse(body)
    assert isinstance(event, Ignored)
