"""Media understood end to end, in-process: webhook body → stored file → understood → the turn sees it.

The gateway is faked at its httpx boundary (respx); the OpenAI-compatible server is a real socket on
loopback, because the SDK speaks httpx2, which respx cannot intercept.
"""

import base64
import copy
import time

import pytest
import respx

from conversations import tasks
from conversations.models import Message
from conversations.routing import inbound_attach
from conversations.turns import TurnOutcome, turn_run, turn_wait
from conversations.understanding import media_understand
from tests.agent import fake_media_server
from tests.agent.media_files import minimal_pdf
from tests.conversations.helpers import record_body
from tests.factories import ChipFactory
from tests.payloads import load_fixture

pytestmark = pytest.mark.django_db
EVOLUTION = "http://evolution.test:8080"
DOWNLOAD = "/chat/getBase64FromMediaMessage/acme-01"
VOICE_NOTE = b"OggS\x00\x02" + bytes(range(64))
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(48))


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, settings, tmp_path):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID"):
        monkeypatch.delenv(name, raising=False)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    # The turn itself runs on the offline playbook: what is under test is what it is given.
    settings.AGENT_MODEL = ""
    settings.AGENT_VISION_MODEL = ""
    settings.TRANSCRIPTION_MODEL = ""
    settings.OPENAI_API_KEY = ""


@pytest.fixture
def chip():
    return ChipFactory(instance_name="acme-01")


@pytest.fixture
def server(settings):
    fake = fake_media_server.FakeMediaServer()
    http_server = fake_media_server.start(fake)
    settings.OPENAI_BASE_URL = fake.base_url
    settings.OPENAI_API_KEY = "sk-test"
    yield fake
    http_server.shutdown()
    http_server.server_close()


@pytest.fixture
def queued(monkeypatch):
    """Media tasks run in this process as soon as they are queued; turn and send tasks are only noted."""
    noted: list[tuple[str, list]] = []

    def inline(task):
        def apply_async(args=(), kwargs=None, **options):
            noted.append((task.name, list(args)))
            return task.apply(args=args, kwargs=kwargs)

        return apply_async

    def note(task):
        def apply_async(args=(), kwargs=None, **options):
            noted.append((task.name, list(args)))

        return apply_async

    for task in (tasks.fetch_media, tasks.understand_media):
        monkeypatch.setattr(task, "apply_async", inline(task))
    for task in (tasks.run_turn, tasks.deliver_outbound):
        monkeypatch.setattr(task, "apply_async", note(task))
    return noted


@pytest.fixture
def agent_contexts(monkeypatch):
    """Every context the agent is asked to decide on (the real agent still decides)."""
    from conversations import turns

    seen = []
    real_decide = turns.decide

    def decide(context, *, llm):
        seen.append(context)
        return real_decide(context, llm=llm)

    monkeypatch.setattr(turns, "decide", decide)
    return seen


def received(chip, fixture: str) -> Message:
    """An Evolution media message recorded as the webhook does, and attached to its conversation."""
    body = copy.deepcopy(load_fixture(f"evolution/{fixture}.json"))
    body["instance"] = chip.instance_name
    body["data"]["messageTimestamp"] = int(time.time())
    message = record_body(chip, body)
    inbound_attach(message_id=message.pk)
    message.refresh_from_db()
    return message


def gateway_file(content: bytes, *, media_type: str, mimetype: str, file_name: str) -> dict:
    """Evolution's getBase64FromMediaMessage answer (2.3.7 capture) carrying `content`."""
    answer = load_fixture("evolution/response.getBase64FromMediaMessage__v2_3_7.json")
    answer.update(
        mediaType=media_type, mimetype=mimetype, fileName=file_name, base64=base64.b64encode(content).decode()
    )
    return answer


def voice_note_answer() -> dict:
    return gateway_file(
        VOICE_NOTE, media_type="audioMessage", mimetype="audio/ogg; codecs=opus", file_name="3EB0B5C72FAD50804DAF26.oga"
    )


def fetch(message: Message, answer: dict) -> None:
    """The fetch task, with the gateway answering `answer`; understanding follows in this process."""
    with respx.mock(base_url=EVOLUTION) as router:
        router.post(DOWNLOAD).respond(201, json=answer)
        tasks.fetch_media.apply(args=[message.pk])


def answer_turn(conversation_id: int) -> list[str]:
    assert turn_wait(conversation_id=conversation_id) == 0
    assert turn_run(conversation_id=conversation_id) is TurnOutcome.ANSWERED
    outbound = Message.objects.filter(conversation_id=conversation_id, direction="out").order_by("sequence")
    return list(outbound.values_list("text", flat=True))


# --- audio --------------------------------------------------------------------------------------------


def test_a_voice_note_is_transcribed_and_the_turn_answers_what_was_said(chip, server, settings, queued, agent_contexts):
    settings.TRANSCRIPTION_MODEL = "gpt-transcribe"
    message = received(chip, "messages.upsert__audio_ptt_v2")
    assert turn_run(conversation_id=message.conversation_id) is TurnOutcome.WAITING  # not heard yet

    fetch(message, voice_note_answer())

    assert queued == [("conversations.understand_media", [message.pk])]  # chained by the fetch
    message.refresh_from_db()
    assert message.media["understood"] is True and "understanding_error" not in message.media
    assert message.media_text == "Meu nome é Ana Paula"
    [request] = server.requests
    assert request.fields["model"] == "gpt-transcribe"
    assert request.files["file"].content == VOICE_NOTE  # the stored file, as the gateway gave it
    assert request.files["file"].file_name == "audio.ogg"

    bubbles = answer_turn(message.conversation_id)

    assert bubbles
    [context] = agent_contexts
    [spoken] = context.new_messages
    assert (spoken.kind, spoken.media_text, spoken.media_failed) == ("audio", "Meu nome é Ana Paula", False)


def test_without_a_transcription_model_the_agent_is_told_it_could_not_hear_and_still_answers(
    chip, server, queued, agent_contexts
):
    message = received(chip, "messages.upsert__audio_ptt_v2")

    fetch(message, voice_note_answer())

    message.refresh_from_db()
    assert message.media["understood"] is True
    assert "no transcription model configured" in message.media["understanding_error"]
    assert message.media_text == ""
    assert server.requests == []
    bubbles = answer_turn(message.conversation_id)
    assert bubbles  # the turn goes on: the customer is answered, not left waiting
    [context] = agent_contexts
    assert context.new_messages[0].media_failed is True


def test_a_busy_transcription_server_is_tried_again_and_its_answer_used(chip, server, settings, queued, agent_contexts):
    settings.TRANSCRIPTION_MODEL = "gpt-transcribe"
    server.statuses = [429, 503]
    message = received(chip, "messages.upsert__audio_ptt_v2")

    fetch(message, voice_note_answer())

    assert len(server.requests) == 3
    message.refresh_from_db()
    assert message.media_text == "Meu nome é Ana Paula"
    assert "understanding_error" not in message.media
    answer_turn(message.conversation_id)
    assert agent_contexts[0].new_messages[0].media_text == "Meu nome é Ana Paula"


def test_when_retries_run_out_the_turn_goes_on_without_the_audio(chip, server, settings, queued, agent_contexts):
    settings.TRANSCRIPTION_MODEL = "gpt-transcribe"
    server.statuses = [503] * 10
    message = received(chip, "messages.upsert__audio_ptt_v2")

    fetch(message, voice_note_answer())

    assert len(server.requests) == tasks.understand_media.max_retries + 1
    message.refresh_from_db()
    assert message.media["understood"] is True
    assert message.media["understanding_error"] == "gave up after retries: transcription failed: HTTP 503"
    answer_turn(message.conversation_id)
    assert agent_contexts[0].new_messages[0].media_failed is True


def test_a_rejected_audio_is_not_retried(chip, server, settings, queued):
    settings.TRANSCRIPTION_MODEL = "gpt-transcribe"
    server.statuses = [400]
    message = received(chip, "messages.upsert__audio_ptt_v2")

    fetch(message, voice_note_answer())

    assert len(server.requests) == 1
    message.refresh_from_db()
    assert message.media["understanding_error"] == "transcription failed: HTTP 400"


def test_a_file_over_the_understanding_limit_is_not_sent(chip, server, settings, queued):
    settings.TRANSCRIPTION_MODEL = "gpt-transcribe"
    settings.MEDIA_UNDERSTANDING_MAX_BYTES = 10
    message = received(chip, "messages.upsert__audio_ptt_v2")

    fetch(message, voice_note_answer())

    assert server.requests == []
    message.refresh_from_db()
    assert (
        message.media["understanding_error"] == f"the audio file has {len(VOICE_NOTE)} bytes, more than the 10 we read"
    )


def test_understanding_twice_asks_the_model_once(chip, server, settings, queued):
    settings.TRANSCRIPTION_MODEL = "gpt-transcribe"
    message = received(chip, "messages.upsert__audio_ptt_v2")
    fetch(message, voice_note_answer())

    server.transcript = "outra coisa"
    assert media_understand(message_id=message.pk) == "Meu nome é Ana Paula"
    assert len(server.requests) == 1


# --- images and documents ---------------------------------------------------------------------------


def test_an_image_is_described_with_the_profiles_hint_by_the_vision_model(chip, server, settings, queued):
    settings.AGENT_VISION_MODEL = "gpt-vision"
    message = received(chip, "messages.upsert__image_base64_v2")
    message.conversation.profile.image_hint = "leia o valor total da conta de luz"
    message.conversation.profile.save(update_fields=["image_hint"])

    fetch(message, gateway_file(JPEG, media_type="imageMessage", mimetype="image/jpeg", file_name="x.jpeg"))

    message.refresh_from_db()
    assert message.media_text == server.description
    body = server.requests[0].json
    assert body["model"] == "gpt-vision"
    text_part, image_part = body["messages"][0]["content"]
    assert "leia o valor total da conta de luz" in text_part["text"]
    assert image_part["image_url"]["url"] == "data:image/jpeg;base64," + base64.b64encode(JPEG).decode()


def test_without_a_vision_model_setting_the_profiles_model_describes_images(chip, server, settings, queued):
    message = received(chip, "messages.upsert__image_base64_v2")
    profile = message.conversation.profile
    profile.model = "gpt-profile"
    profile.save(update_fields=["model"])

    fetch(message, gateway_file(JPEG, media_type="imageMessage", mimetype="image/jpeg", file_name="x.jpeg"))

    assert server.requests[0].json["model"] == "gpt-profile"
    assert Message.objects.get(pk=message.pk).media_text == server.description


def test_a_pdf_is_read_without_any_model(chip, queued, agent_contexts):
    pdf = minimal_pdf(["Fatura de energia", "Total a pagar: R$ 412,90"])
    message = received(chip, "messages.upsert__document_media_url_v2")

    fetch(message, gateway_file(pdf, media_type="documentMessage", mimetype="application/pdf", file_name="fatura.pdf"))

    message.refresh_from_db()
    assert message.media_text == "Fatura de energia\nTotal a pagar: R$ 412,90"
    answer_turn(message.conversation_id)
    [document] = agent_contexts[0].new_messages
    assert document.media_text == "Fatura de energia\nTotal a pagar: R$ 412,90"
    assert "segue a fatura" in document.text  # the caption still reaches the agent


def test_a_scanned_pdf_without_text_is_reported_unreadable(chip, queued):
    message = received(chip, "messages.upsert__document_media_url_v2")
    blank = minimal_pdf([])
    fetch(message, gateway_file(blank, media_type="documentMessage", mimetype="application/pdf", file_name="a.pdf"))
    message.refresh_from_db()
    assert message.media["understanding_error"] == "nothing could be read from the document"


def test_a_video_has_nothing_to_understand(chip, server, settings, queued):
    settings.TRANSCRIPTION_MODEL = "gpt-transcribe"
    message = received(chip, "messages.upsert__video_caption_v2")

    fetch(
        message,
        gateway_file(b"\x00\x00\x00\x18ftypmp42", media_type="videoMessage", mimetype="video/mp4", file_name="v.mp4"),
    )

    message.refresh_from_db()
    assert message.media["understood"] is True and "understanding_error" not in message.media
    assert message.media_text == ""
    assert server.requests == []


# --- a failed download ---------------------------------------------------------------------------------


def test_a_file_the_gateway_cannot_give_is_not_sent_to_be_understood(chip, server, settings, queued, agent_contexts):
    settings.TRANSCRIPTION_MODEL = "gpt-transcribe"
    message = received(chip, "messages.upsert__audio_ptt_v2")
    with respx.mock(base_url=EVOLUTION) as router:
        router.post(DOWNLOAD).respond(
            400, json={"status": 400, "error": "Bad Request", "response": {"message": ["Message not found"]}}
        )
        tasks.fetch_media.apply(args=[message.pk])

    assert queued == []  # nothing stored, nothing to understand
    assert server.requests == []
    answer_turn(message.conversation_id)
    assert agent_contexts[0].new_messages[0].media_failed is True
