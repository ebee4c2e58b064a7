"""Every Cloud API payload in the fixtures, parsed into normalized events; routing and handshake."""

import copy
import dataclasses
import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from integrations.providers.base import (
    Contact,
    GatewayConfig,
    IdentityLink,
    Ignored,
    InboundMessage,
    MessageEdited,
    MessageRevoked,
    StatusUpdate,
    WebhookRejected,
    WebhookRequest,
)
from integrations.providers.cloudapi import CloudApiProvider
from tests.payloads import fixture_names, load_fixture

SECRET = "app-secret-0123456789abcdef"
provider = CloudApiProvider(
    GatewayConfig(kind="cloudapi", base_url="https://graph.facebook.com/v23.0", webhook_secret=SECRET)
)

DOCS_NUMBER = "106540352242922"
ZAMMAD_ID = "wamid.HBgNNDkxNTE1NjA4MDY5OBUCABIYFjNFQjBDMUM4M0I5NDRFNThBMUQyMjYA"
ZAMMAD_SENDER = Contact(phone="+5511900000003", push_name="Maria Souza")
ZAMMAD_TIME = datetime.fromtimestamp(1707921703, tz=UTC)
DOCS_TEXT_ID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
DOCS_TEXT_TIME = datetime.fromtimestamp(1749416383, tz=UTC)
DOCS_ID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA="
DOCS_TIME = datetime.fromtimestamp(1739321024, tz=UTC)
SENT_ID = "wamid.HBgNNTUxMTkwMDAwMDAwMxUCABEYEjQ4NkE2QjI0RjE2NjFFQzUyQQA="
PYWA_CONTACT = Contact(phone="+972987654321", bsuid="US.13491208655302741918", push_name="Test Name")
PABLO_BSUID = "user.9373795779eb6441c8adb2eaee5b848e7dd174ddd302d7db62142f4722d574b6"


def zammad(kind, **fields):
    return InboundMessage(
        provider_message_id=ZAMMAD_ID, contact=ZAMMAD_SENDER, from_me=False, kind=kind, timestamp=ZAMMAD_TIME, **fields
    )


DOCS_TEXT = InboundMessage(
    provider_message_id=DOCS_TEXT_ID,
    contact=Contact(phone="+16505551234", push_name="Sheena Nelson"),
    from_me=False,
    kind="text",
    text="Does it come in another color?",
    timestamp=DOCS_TEXT_TIME,
)
ZAMMAD_IMAGE = zammad("image", caption="My beautiful image", mime_type="image/jpeg", media_id="1870770316696531")
ZAMMAD_READ = StatusUpdate(provider_message_id=SENT_ID, status="read", recipient=Contact(phone="+15551340563"))

EXPECTED = {
    "messages.text__docs_overview": [DOCS_TEXT],
    "messages.text__bsuid_username": [
        dataclasses.replace(DOCS_TEXT, contact=Contact(phone=None, bsuid="user.93737...", push_name="Sheena Nelson"))
    ],
    # from_user_id wins over the contacts entry (whose user_id has a stray "u" in Meta's example).
    "messages.text__bsuid_parent_no_phone": [
        dataclasses.replace(
            DOCS_TEXT, contact=Contact(phone=None, bsuid="US.13491208655302741918", push_name="Sheena Nelson")
        )
    ],
    "messages.image__zammad": [ZAMMAD_IMAGE],
    "messages.audio__zammad": [zammad("audio", mime_type="audio/mpeg", media_id="1870770316696531")],
    "messages.video__zammad": [zammad("video", mime_type="video/mp4", media_id="1870770316696531")],
    "messages.sticker__zammad": [zammad("sticker", mime_type="image/webp", media_id="1870770316696531")],
    "messages.document__zammad": [
        zammad("document", mime_type="application/pdf", file_name="lorem-ipsum.pdf", media_id="1870770316696531")
    ],
    "messages.location__zammad": [
        zammad("location", latitude=50.697254180908, longitude=7.9327116012573, text="Langenbach Arena")
    ],
    "messages.reaction__zammad": [
        zammad("reaction", text="👍", quoted_id="wamid.HBgNNDkxNTE1NjA4MDY5OBUCABEYEjZEOUYzRTVEMkIzQkExRkE1RQA=")
    ],
    "messages.interactive__button_reply": [
        InboundMessage(
            provider_message_id="wamid.HBgLMTY0NjcwNDM1OTUVAgASGBQzQThBREYwNzc2RDc2QjA1QTIwMgA=",
            contact=Contact(phone="+16505551234", push_name="Pablo Morales"),
            from_me=False,
            kind="interactive",
            text="Change",
            quoted_id="wamid.HBgLMTY0NjcwNDM1OTUVAgARGBJBM0Y4RUU0RUNFQkFDMjYzQUMA",
            timestamp=datetime.fromtimestamp(1714510003, tz=UTC),
        )
    ],
    "messages.interactive__list_reply": [
        InboundMessage(
            provider_message_id="wamid.HBgLMTY0NjcwNDM1OTUVAgASGBQzQTZDMzFGRUFBQjlDMzIzMzlEQwA=",
            contact=Contact(phone="+16505551234", push_name="Pablo Morales"),
            from_me=False,
            kind="interactive",
            text="Priority Mail Express",
            quoted_id="wamid.HBgLMTY0NjcwNDM1OTUVAgARGBIwMjg0RkMxOEMyMkNEQUFFRDgA",
            timestamp=datetime.fromtimestamp(1712595443, tz=UTC),
        )
    ],
    "messages.button__quick_reply_zaple": [
        InboundMessage(
            provider_message_id="wamid.HBgMOTE4ODY2MjMwNjYzFQIAEhgWM0VCMEM3MDk5RTEyQkMyRDMwMjE5NAA=",
            contact=Contact(phone="+918800000001", push_name="~smit"),
            from_me=False,
            kind="interactive",
            text="Approve",
            quoted_id="wamid.HBgMOTE4ODY2MjMwNjYzFQIAERgSNzc2RUEzMEQwQUQ1NzhGNjZCAA==",
            timestamp=datetime.fromtimestamp(1771855045, tz=UTC),
        )
    ],
    "messages.contacts__docs": [
        InboundMessage(
            provider_message_id=DOCS_ID,
            contact=Contact(phone="+16505551234", push_name="Sheena Nelson"),
            from_me=False,
            kind="contact",
            text="Pablo Morales +16505551234",
            timestamp=DOCS_TIME,
        )
    ],
    "messages.unsupported__docs": [
        InboundMessage(
            provider_message_id=DOCS_ID,
            contact=Contact(phone="+16505551234", push_name="Sheena Nelson"),
            from_me=False,
            kind="unknown",
            timestamp=DOCS_TIME,
        )
    ],
    "messages.group__docs": [Ignored("group message")],
    "messages.system__user_changed_number_docs": [Ignored("system message user_changed_number")],
    "messages.system__user_changed_user_id_docs": [
        IdentityLink(Contact(phone="+12195555358", bsuid="US.20572993116840372955"))
    ],
    "errors.rate_limit__docs": [
        Ignored(
            "out-of-band error 130429 Rate limit hit: Message failed to send because there were too many messages "
            "sent from this phone number in a short period of time"
        )
    ],
    "statuses.delivered__phone_username": [
        StatusUpdate(
            provider_message_id=DOCS_ID,
            status="delivered",
            recipient=Contact(phone="+16505551234", bsuid=PABLO_BSUID, push_name="Pablo M."),
        )
    ],
    "statuses.delivered__bsuid": [
        StatusUpdate(
            provider_message_id=DOCS_ID,
            status="delivered",
            recipient=Contact(phone=None, bsuid=PABLO_BSUID, push_name="Pablo M."),
        )
    ],
    "statuses.failed__131047_zammad": [
        StatusUpdate(
            provider_message_id=SENT_ID,
            status="failed",
            error=(
                "131047 Re-engagement message: Message failed to send because more than 24 hours have passed "
                "since the customer last replied to this number."
            ),
            recipient=Contact(phone="+15551340563"),
        )
    ],
    "statuses.read__zammad": [ZAMMAD_READ],
    "multi.entries__two_numbers": [DOCS_TEXT, ZAMMAD_READ, ZAMMAD_IMAGE],
    # Numbers also used in the WhatsApp Business app: edits and deletes name the original message.
    "messages.edit__image_caption_pywa": [
        MessageEdited(
            provider_message_id="wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA=",
            text="Updated image caption",
        )
    ],
    "messages.revoke__pywa": [
        MessageRevoked(provider_message_id="wamid.HBgMOTcyOTg3NjU0MzIxFQIAEhgUM0FBMDAwMDAwMDAwMDAwMDAwMDEA")
    ],
    "messages.order__pywa": [
        InboundMessage(
            provider_message_id="wamid.xyzxyz",
            contact=PYWA_CONTACT,
            from_me=False,
            kind="unknown",
            text="[pedido] 3x HAMBURGER (30 ILS), 2x FRENCH_FRIES (35 ILS), 2x SODA (10 ILS)",
            timestamp=datetime.fromtimestamp(1697044668, tz=UTC),
        )
    ],
    "statuses.read__group_pywa": [Ignored("status of a group message")],
    # Typed by the business in the WhatsApp Business app: ours, from the phone, to the customer.
    "smb_message_echoes.text__pywa": [
        InboundMessage(
            provider_message_id="wamid.HBgMOTcyOTg3NjU0MzIxFQIAERgSM0VCMEExQjJDM0Q0RTVGNjA3AA==",
            contact=PYWA_CONTACT,
            from_me=True,
            kind="text",
            text="Test message",
            timestamp=datetime.fromtimestamp(1697043223, tz=UTC),
        )
    ],
}


def without_raw(events):
    return [dataclasses.replace(e, raw={}) if isinstance(e, InboundMessage) else e for e in events]


def webhook_fixtures():
    return [name for name in fixture_names("cloudapi") if "/response." not in name]


def test_every_fixture_has_exact_expectations():
    assert {f"cloudapi/{name}.json" for name in EXPECTED} == set(webhook_fixtures())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_parses_to_exact_events(name):
    assert without_raw(provider.parse(load_fixture(f"cloudapi/{name}.json"))) == EXPECTED[name]


def test_inbound_message_keeps_the_raw_message():
    [event] = provider.parse(load_fixture("cloudapi/messages.text__docs_overview.json"))
    assert event.raw["id"] == DOCS_TEXT_ID and event.raw["text"] == {"body": "Does it come in another color?"}


# --- split / routing -------------------------------------------------------------------------------


def test_split_gives_one_part_per_change_with_its_phone_number_id():
    body = load_fixture("cloudapi/multi.entries__two_numbers.json")
    parts = CloudApiProvider.split(body)
    assert [key for key, _ in parts] == [DOCS_NUMBER, "108854732190112", DOCS_NUMBER]
    assert without_raw(provider.parse(parts[1][1])) == [ZAMMAD_READ]
    assert parts[2][1]["entry"][0]["id"] == "260895230431646"


def test_waba_level_field_routes_by_signature_and_is_ignored():
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "message_template_status_update",
                        "value": {"event": "APPROVED", "message_template_id": 594425479261596},
                    }
                ],
            }
        ],
    }
    assert CloudApiProvider.split(body)[0][0] is None
    assert provider.parse(body) == [Ignored("field message_template_status_update is not used")]


@pytest.mark.parametrize(
    "body",
    [
        {"entry": []},
        {"object": "whatsapp_business_account"},
        {"object": "whatsapp_business_account", "entry": {"id": "1"}},
        {"object": "whatsapp_business_account", "entry": []},
        {"object": "whatsapp_business_account", "entry": [{"id": "1"}]},
        {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages"}]}]},
    ],
    ids=["no-object", "no-entry", "entry-not-list", "no-changes", "entry-without-changes", "change-without-value"],
)
def test_bodies_that_are_not_meta_webhooks_are_rejected(body):
    with pytest.raises(WebhookRejected) as caught:
        CloudApiProvider.split(body)
    assert caught.value.status == 400


def test_messages_change_without_phone_number_id_is_rejected():
    body = load_fixture("cloudapi/messages.text__docs_overview.json")
    del body["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"]
    with pytest.raises(WebhookRejected) as caught:
        CloudApiProvider.split(body)
    assert caught.value.status == 400
    assert "phone_number_id" in caught.value.message


# --- message details -----------------------------------------------------------------------------------


def text_body(**message_changes):
    body = copy.deepcopy(load_fixture("cloudapi/messages.text__docs_overview.json"))
    body["entry"][0]["changes"][0]["value"]["messages"][0].update(message_changes)
    return body


def test_context_id_becomes_the_quoted_id():
    [event] = provider.parse(text_body(context={"from": "15550783881", "id": "wamid.QUOTED"}))
    assert event.quoted_id == "wamid.QUOTED"


def test_millisecond_timestamps_are_normalized():
    [event] = provider.parse(text_body(timestamp="1749416383000"))
    assert event.timestamp == DOCS_TEXT_TIME


def test_webhook_media_url_is_kept_beside_the_media_id():
    body = load_fixture("cloudapi/messages.image__zammad.json")
    body["entry"][0]["changes"][0]["value"]["messages"][0]["image"]["url"] = "https://lookaside.fbsbx.com/x?mid=1"
    [event] = provider.parse(body)
    assert (event.media_id, event.media_url) == ("1870770316696531", "https://lookaside.fbsbx.com/x?mid=1")


def test_flow_reply_uses_its_body():
    [event] = provider.parse(
        text_body(type="interactive", interactive={"type": "nfm_reply", "nfm_reply": {"body": "Sent", "name": "flow"}})
    )
    assert (event.kind, event.text) == ("interactive", "Sent")


def test_removed_reaction_has_no_emoji_but_points_at_its_message():
    body = load_fixture("cloudapi/messages.reaction__zammad.json")
    del body["entry"][0]["changes"][0]["value"]["messages"][0]["reaction"]["emoji"]
    [event] = provider.parse(body)
    assert (event.kind, event.text, event.quoted_id[:10]) == ("reaction", "", "wamid.HBgN")


def test_request_welcome_is_not_a_message():
    [event] = provider.parse(text_body(type="request_welcome"))
    assert isinstance(event, Ignored)


def test_unknown_type_is_kept_as_unknown():
    [event] = provider.parse(text_body(type="order", order={"catalog_id": "1"}))
    assert event.kind == "unknown"


def test_phone_and_bsuid_together_are_both_on_the_contact():
    body = text_body(from_user_id="US.13491208655302741918")
    [event] = provider.parse(body)
    assert event.contact == Contact(phone="+16505551234", bsuid="US.13491208655302741918", push_name="Sheena Nelson")


def test_brazilian_eight_digit_mobile_is_widened():
    body = text_body(**{"from": "551187654321"})
    body["entry"][0]["changes"][0]["value"]["contacts"][0]["wa_id"] = "551187654321"
    [event] = provider.parse(body)
    assert event.contact.phone == "+5511987654321"


def test_user_changed_user_id_without_phone_is_ignored():
    body = load_fixture("cloudapi/messages.system__user_changed_user_id_docs.json")
    del body["entry"][0]["changes"][0]["value"]["messages"][0]["system"]["wa_id"]
    assert provider.parse(body) == [Ignored("system message user_changed_user_id")]


@pytest.mark.parametrize(
    "changes",
    [{"id": ""}, {"from": ""}, {"id": None}],
    ids=["empty-id", "no-sender", "null-id"],
)
def test_message_without_id_or_sender_is_rejected(changes):
    body = text_body(**changes)
    body["entry"][0]["changes"][0]["value"]["contacts"] = []
    with pytest.raises(WebhookRejected) as caught:
        provider.parse(body)
    assert caught.value.status == 400


def test_contacts_that_are_not_a_list_are_rejected():
    body = text_body()
    body["entry"][0]["changes"][0]["value"]["contacts"] = {"wa_id": "1"}
    with pytest.raises(WebhookRejected):
        provider.parse(body)


# --- statuses --------------------------------------------------------------------------------------------


def status_body(**status_changes):
    body = copy.deepcopy(load_fixture("cloudapi/statuses.read__zammad.json"))
    body["entry"][0]["changes"][0]["value"]["statuses"][0].update(status_changes)
    return body


@pytest.mark.parametrize("name", ["sent", "delivered", "read", "played"])
def test_every_delivery_status_maps(name):
    [event] = provider.parse(status_body(status=name))
    assert event == StatusUpdate(provider_message_id=SENT_ID, status=name, recipient=Contact(phone="+15551340563"))


def test_failed_without_errors_still_has_an_error_text():
    [event] = provider.parse(status_body(status="failed"))
    assert (event.status, event.error) == ("failed", "failed")


def test_status_we_do_not_track_is_ignored():
    [event] = provider.parse(status_body(status="deleted"))
    assert isinstance(event, Ignored)


def test_status_without_id_is_rejected():
    with pytest.raises(WebhookRejected):
        provider.parse(status_body(id=""))


# --- handshake -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "token", "expected"),
    [
        ({"hub.mode": "subscribe", "hub.verify_token": "tok", "hub.challenge": "1158201444"}, "tok", "1158201444"),
        ({"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1158201444"}, "tok", None),
        ({"hub.mode": "unsubscribe", "hub.verify_token": "tok", "hub.challenge": "1158201444"}, "tok", None),
        ({"hub.mode": "subscribe", "hub.verify_token": "tok"}, "tok", None),
        ({"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"}, "", None),
    ],
    ids=["match", "wrong-token", "wrong-mode", "no-challenge", "empty-token"],
)
def test_handshake(query, token, expected):
    assert CloudApiProvider.handshake(query, token) == expected


# --- authenticate ------------------------------------------------------------------------------------------


def signed(raw: bytes, secret: str = SECRET, header: str = "X-Hub-Signature-256") -> WebhookRequest:
    digest = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return WebhookRequest(headers={header: f"sha256={digest}"}, body=raw)


def test_signature_over_the_raw_bytes_is_accepted():
    raw = b'{"object": "whatsapp_business_account",  "entry": []}'
    assert provider.authenticate(signed(raw))
    assert provider.authenticate(signed(raw, header="x-hub-signature-256"))


@pytest.mark.parametrize(
    "request_",
    [
        WebhookRequest(headers={}, body=b"{}"),
        signed(b"{}", secret="another-secret"),
        WebhookRequest(headers={"X-Hub-Signature-256": "sha1=abc"}, body=b"{}"),
        WebhookRequest(headers={"X-Hub-Signature-256": "sha256="}, body=b"{}"),
    ],
    ids=["missing", "other-secret", "wrong-algorithm", "empty"],
)
def test_bad_or_missing_signature_is_refused(request_):
    assert not provider.authenticate(request_)


def test_signature_of_reserialized_json_is_refused():
    request_ = signed(b'{"a": 1}')
    assert not provider.authenticate(WebhookRequest(headers=request_.headers, body=b'{"a":1}'))


def test_gateway_without_app_secret_accepts_nothing():
    open_provider = CloudApiProvider(GatewayConfig(kind="cloudapi", base_url="https://graph.facebook.com/v23.0"))
    assert not open_provider.authenticate(signed(b"{}", secret=""))
