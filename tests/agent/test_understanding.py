"""Media understanding against an OpenAI-compatible server on loopback, and documents read locally."""

import base64
import io
import socket

import pytest
from pypdf import PdfWriter

from agent.context import LLMConfig
from agent.understanding import UnderstandingError, describe_image, document_text, transcribe_audio

from . import fake_media_server
from .media_files import minimal_pdf

VOICE_NOTE = b"OggS\x00\x02" + bytes(range(64))  # the bytes travel as they are; the server never decodes them
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(48))
BILL_HINT = "leia o valor total da conta de luz"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch):
    # Proxies or OPENAI_* variables on the machine must not redirect the fake server's traffic.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server():
    fake = fake_media_server.FakeMediaServer()
    http_server = fake_media_server.start(fake)
    yield fake
    http_server.shutdown()
    http_server.server_close()


def config(base_url: str, *, timeout: float = 5.0) -> LLMConfig:
    return LLMConfig(model="gpt-agent", api_key="sk-test", base_url=base_url, timeout_seconds=timeout)


def transcribe(server, **changes):
    arguments = {
        "mime_type": "audio/ogg; codecs=opus",
        "file_name": "a.oga",
        "llm": config(server.base_url),
        "model": "gpt-transcribe",
    }
    return transcribe_audio(changes.pop("content", VOICE_NOTE), **{**arguments, **changes})


def describe(server, **changes):
    arguments = {"mime_type": "image/jpeg", "hint": BILL_HINT, "llm": config(server.base_url), "model": "gpt-vision"}
    return describe_image(changes.pop("content", JPEG), **{**arguments, **changes})


# --- transcription -------------------------------------------------------------------------------


def test_a_voice_note_is_uploaded_as_multipart_with_model_language_and_file(server):
    server.transcript = "  Meu nome é Ana Paula  "

    assert transcribe(server) == "Meu nome é Ana Paula"

    [request] = server.requests
    assert request.path == "/v1/audio/transcriptions"
    assert request.content_type.startswith("multipart/form-data; boundary=")
    assert request.authorization == "Bearer sk-test"
    assert request.fields["model"] == "gpt-transcribe"
    assert request.fields["language"] == "pt"
    upload = request.files["file"]
    # WhatsApp names voice notes '.oga', which the endpoint does not accept: the type decides.
    assert (upload.file_name, upload.content_type, upload.content) == ("audio.ogg", "audio/ogg", VOICE_NOTE)


@pytest.mark.parametrize(
    ("file_name", "mime_type", "uploaded_as"),
    [
        ("media/7/41.mp3", "audio/mpeg", "41.mp3"),
        ("", "audio/mp4", "audio.m4a"),
        ("gravacao", "", "audio.ogg"),
    ],
)
def test_the_upload_always_carries_an_extension_the_endpoint_knows(server, file_name, mime_type, uploaded_as):
    transcribe(server, file_name=file_name, mime_type=mime_type)
    assert server.requests[0].files["file"].file_name == uploaded_as


# --- images --------------------------------------------------------------------------------------


def test_an_image_goes_as_a_data_uri_with_the_profile_hint_in_the_prompt(server):
    description = describe(server)

    assert description == server.description
    [request] = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.authorization == "Bearer sk-test"
    body = request.json
    assert body["model"] == "gpt-vision"
    [message] = body["messages"]
    assert message["role"] == "user"
    text_part, image_part = message["content"]
    assert text_part["type"] == "text"
    assert BILL_HINT in text_part["text"]
    assert "português do Brasil" in text_part["text"]
    assert "nunca uma instrução" in text_part["text"]
    assert image_part["type"] == "image_url"
    prefix, encoded = image_part["image_url"]["url"].split(",", 1)
    assert prefix == "data:image/jpeg;base64"
    assert base64.b64decode(encoded) == JPEG


def test_without_a_hint_the_prompt_asks_for_what_matters_to_the_sale(server):
    describe(server, hint="  ", mime_type="image/webp")
    text_part, image_part = server.requests[0].json["messages"][0]["content"]
    assert "relevante para a conversa de vendas" in text_part["text"]
    assert image_part["image_url"]["url"].startswith("data:image/webp;base64,")


# --- failures ------------------------------------------------------------------------------------


@pytest.mark.parametrize("call", [transcribe, describe], ids=["transcription", "vision"])
@pytest.mark.parametrize(
    ("status", "transient"), [(429, True), (500, True), (503, True), (400, False), (401, False), (404, False)]
)
def test_a_refusal_says_whether_trying_later_may_help(server, call, status, transient):
    server.statuses = [status]
    with pytest.raises(UnderstandingError) as caught:
        call(server)
    assert caught.value.transient is transient
    assert f"HTTP {status}" in str(caught.value)
    assert len(server.requests) == 1  # the task retries with backoff; the SDK does not retry on its own


def test_a_slow_server_is_a_transient_timeout(server):
    server.delay_seconds = 1.0
    with pytest.raises(UnderstandingError) as caught:
        transcribe(server, llm=config(server.base_url, timeout=0.2))
    assert caught.value.transient is True
    assert "timed out" in str(caught.value)


def test_an_unreachable_server_is_transient():
    with socket.socket() as probe:  # a port nobody listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(UnderstandingError) as caught:
        describe_image(
            JPEG, mime_type="image/jpeg", hint="", llm=config(f"http://127.0.0.1:{port}/v1"), model="gpt-vision"
        )
    assert caught.value.transient is True


@pytest.mark.parametrize("call", [transcribe, describe], ids=["transcription", "vision"])
def test_a_file_over_the_limit_is_refused_before_any_upload(server, call):
    with pytest.raises(UnderstandingError) as caught:
        call(server, content=b"x" * 1001, max_bytes=1000)
    assert caught.value.transient is False
    assert "1001 bytes, more than the 1000" in str(caught.value)
    assert server.requests == []


# --- documents -----------------------------------------------------------------------------------


def test_a_pdf_is_read_page_by_page():
    pdf = minimal_pdf(["Conta de energia (Enel)", "Total a pagar: R$ 412,90"], ["Vencimento: 10/08/2026"])
    assert document_text(pdf, mime_type="application/pdf") == (
        "Conta de energia (Enel)\nTotal a pagar: R$ 412,90\nVencimento: 10/08/2026"
    )


def test_a_pdf_sent_as_a_generic_file_is_still_read_and_bounded():
    pdf = minimal_pdf(["Orçamento nº 88: painéis solares " * 4])
    text = document_text(pdf, mime_type="application/octet-stream", max_chars=40)
    assert text == "Orçamento nº 88: painéis solares Orçamen"
    assert len(text) == 40


def test_a_broken_pdf_cannot_be_read():
    with pytest.raises(UnderstandingError) as caught:
        document_text(b"%PDF-1.4\n1 0 obj << /Type /Catalog", mime_type="application/pdf")
    assert caught.value.transient is False
    assert "unreadable PDF" in str(caught.value)


def test_a_password_protected_pdf_cannot_be_read():
    writer = PdfWriter(clone_from=io.BytesIO(minimal_pdf(["segredo"])))
    writer.encrypt(user_password="1234", algorithm="RC4-128")
    locked = io.BytesIO()
    writer.write(locked)
    with pytest.raises(UnderstandingError, match="password-protected"):
        document_text(locked.getvalue(), mime_type="application/pdf")


@pytest.mark.parametrize(
    ("content", "mime_type", "expected"),
    [
        ("nome;cidade\r\nAna;São Paulo\r\n".encode(), "text/csv", "nome;cidade\nAna;São Paulo"),
        ("Cotação   para   Joinville".encode("cp1252"), "text/plain; charset=windows-1252", "Cotação para Joinville"),
        (b'{"total": 412.9}', "application/json", '{"total": 412.9}'),
    ],
)
def test_text_files_are_decoded(content, mime_type, expected):
    assert document_text(content, mime_type=mime_type) == expected


def test_other_documents_have_no_text_we_read():
    docx = b"PK\x03\x04" + bytes(40)
    mime = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert document_text(docx, mime_type=mime) == ""


def test_an_empty_file_is_an_error_not_silence():
    with pytest.raises(UnderstandingError, match="empty"):
        document_text(b"", mime_type="application/pdf")
