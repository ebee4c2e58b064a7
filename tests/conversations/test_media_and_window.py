"""Media fetched into storage by a task; the Cloud API's 24-hour window enforced at the send gate."""

import hashlib
import hmac
import json
from datetime import timedelta

import httpx
import pytest
import respx
from django.core.files.storage import default_storage
from django.utils import timezone

from conversations.media import media_fetch
from conversations.models import Conversation, Message
from conversations.outbound import outbound_deliver
from tests.factories import ChipFactory, ConversationFactory, OutboundMessageFactory
from tests.payloads import load_fixture

pytestmark = pytest.mark.django_db
GRAPH = "https://graph.facebook.com/v23.0"
APP_SECRET = "cloud-app-secret-0123456789abcdefghij"


@pytest.fixture
def cloud_chip():
    return ChipFactory(
        gateway__kind="cloudapi",
        gateway__base_url=GRAPH,
        gateway__api_key="EAAG-token",
        gateway__webhook_secret=APP_SECRET,
        instance_name="106540352242922",
    )


def post_signed(client, body):
    raw = json.dumps(body).encode()
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return client.post(
        "/webhooks/cloudapi/", data=raw, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=signature
    )


def test_an_image_is_downloaded_through_the_provider_into_storage(client, cloud_chip, settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    assert post_signed(client, load_fixture("cloudapi/messages.image__zammad.json")).status_code == 202
    message = Message.objects.get(kind="image")
    assert message.media["id"] == "1870770316696531"

    with respx.mock(assert_all_called=True) as router:
        router.get(f"{GRAPH}/1870770316696531").respond(200, json=load_fixture("cloudapi/response.media__docs.json"))
        file = router.get(url__startswith="https://lookaside.fbsbx.com/whatsapp_business/attachments/").respond(
            200, content=b"\xff\xd8\xff jpeg bytes", headers={"Content-Type": "image/jpeg"}
        )
        path = media_fetch(message_id=message.pk)

    assert file.calls[0].request.headers["Authorization"] == "Bearer EAAG-token"
    message.refresh_from_db()
    assert message.media["path"] == path and path.endswith(".jpg")
    assert message.media["size"] == len(b"\xff\xd8\xff jpeg bytes")
    with default_storage.open(path) as stored:
        assert stored.read() == b"\xff\xd8\xff jpeg bytes"
    assert media_fetch(message_id=message.pk) == path  # stored once; a re-run downloads nothing


def test_a_media_link_that_is_gone_is_recorded_not_retried_forever(client, cloud_chip):
    post_signed(client, load_fixture("cloudapi/messages.image__zammad.json"))
    message = Message.objects.get(kind="image")
    with respx.mock() as router:
        router.get(f"{GRAPH}/1870770316696531").respond(404, json={"error": {"message": "gone", "code": 100}})
        assert media_fetch(message_id=message.pk) is None
    message.refresh_from_db()
    assert "404" in message.media["error"] and "path" not in message.media


def test_a_transient_media_failure_is_retried_later(client, cloud_chip):
    from conversations.media import TransientMediaError

    post_signed(client, load_fixture("cloudapi/messages.image__zammad.json"))
    message = Message.objects.get(kind="image")
    with respx.mock() as router:
        router.get(f"{GRAPH}/1870770316696531").mock(side_effect=httpx.ConnectError("down"))
        with pytest.raises(TransientMediaError):
            media_fetch(message_id=message.pk)


def test_free_form_send_outside_the_24_hour_window_is_refused_with_a_reason(cloud_chip):
    conversation = ConversationFactory(chip=cloud_chip, last_inbound_at=timezone.now() - timedelta(hours=25))
    message = OutboundMessageFactory(conversation=conversation, chip=cloud_chip, provider="cloudapi")
    with respx.mock(assert_all_called=False) as router:
        sent = router.post(f"{GRAPH}/106540352242922/messages")
        outbound_deliver(conversation_id=conversation.pk)
    assert sent.call_count == 0
    message.refresh_from_db()
    assert message.status == "failed"
    assert "24-hour customer service window" in message.error


def test_reply_inside_the_window_goes_out(cloud_chip):
    conversation = ConversationFactory(chip=cloud_chip, last_inbound_at=timezone.now() - timedelta(hours=2))
    message = OutboundMessageFactory(conversation=conversation, chip=cloud_chip, provider="cloudapi")
    with respx.mock() as router:
        router.post(f"{GRAPH}/106540352242922/messages").respond(
            200, json=load_fixture("cloudapi/response.send__docs.json")
        )
        report = outbound_deliver(conversation_id=conversation.pk)
    assert report.sent == 1
    message.refresh_from_db()
    assert message.status == "sent" and message.provider_message_id.startswith("wamid.")
    assert Conversation.objects.get(pk=conversation.pk).last_outbound_at is not None
