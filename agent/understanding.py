"""Media understanding: what a voice note said, what an image shows, what a document reads.

Audio and images go to an OpenAI-compatible server (transcription; a vision-capable chat model);
documents are read locally. Every failure is an `UnderstandingError` that says whether trying
again later may help, so the caller can retry the transient ones and give up on the rest.
"""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import openai
from openai import OpenAI

from agent.context import LLMConfig
from agent.llm import make_client

# Larger files are refused before any upload: OpenAI takes audio up to 25 MB and images up to
# 20 MB, and a base64 data URI grows an image by a third again.
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
# A document is read at most this far: the agent needs the gist (a bill, a quote), not a book.
MAX_PDF_PAGES = 30
TRANSCRIPTION_LANGUAGE = "pt"
# Formats the transcription endpoint accepts; it goes by the file name's extension.
AUDIO_EXTENSIONS = frozenset({"flac", "mp3", "mp4", "mpeg", "mpga", "m4a", "ogg", "wav", "webm"})
AUDIO_EXTENSION_FOR = {
    "audio/ogg": "ogg",  # WhatsApp voice notes: "audio/ogg; codecs=opus"
    "audio/opus": "ogg",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/mp4": "m4a",
    "audio/x-m4a": "m4a",
    "audio/aac": "m4a",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/webm": "webm",
    "audio/flac": "flac",
}
TEXT_MIME_TYPES = frozenset({"application/json", "application/csv", "application/xml"})
# Statuses worth another try later: the SDK's own retry set (timeouts, conflicts, rate limits, outages).
TRANSIENT_STATUSES = frozenset({408, 409, 429})

# The model reads what the customer photographed; whatever text the picture holds is data only.
# The customer-facing wording lives with the other prompts; {hint} is the profile's image hint.
IMAGE_PROMPT = (Path(__file__).parent / "prompts" / "describe_image.md").read_text(encoding="utf-8").strip()
NO_HINT = "descreva o que a imagem mostra de relevante para a conversa de vendas."

_BLANK_RUNS = re.compile(r"[ \t]+")
_LINE_RUNS = re.compile(r"\n\s*\n+")


class UnderstandingError(Exception):
    """The media could not be understood; `transient` when a later attempt may succeed."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


def transcribe_audio(
    content: bytes,
    *,
    mime_type: str,
    file_name: str,
    llm: LLMConfig,
    model: str,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> str:
    """What a voice note says, transcribed by `model` (e.g. gpt-transcribe, whisper-1)."""
    _check_size(content, max_bytes, "audio")
    upload = (_audio_file_name(file_name, mime_type), content, _base_type(mime_type) or "audio/ogg")
    try:
        # The default `json` format is the one every transcription model accepts.
        result = _client(llm).audio.transcriptions.create(file=upload, model=model, language=TRANSCRIPTION_LANGUAGE)
    except openai.OpenAIError as exc:
        raise _from_sdk(exc, "transcription") from exc
    return (getattr(result, "text", "") or "").strip()


def describe_image(
    content: bytes,
    *,
    mime_type: str,
    hint: str,
    llm: LLMConfig,
    model: str,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> str:
    """A short factual description of an image for the sales agent, following the profile's hint."""
    _check_size(content, max_bytes, "image")
    data_uri = f"data:{_base_type(mime_type) or 'image/jpeg'};base64,{base64.b64encode(content).decode('ascii')}"
    prompt = IMAGE_PROMPT.format(hint=hint.strip() or NO_HINT)
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": prompt},
                {"type": "image_url", "image_url": {"url": data_uri}},
            ],
        }
    ]
    try:
        response = _client(llm).chat.completions.create(model=model, messages=messages)
    except openai.OpenAIError as exc:
        raise _from_sdk(exc, "image description") from exc
    if not response.choices:
        return ""
    return (response.choices[0].message.content or "").strip()


def document_text(content: bytes, *, mime_type: str, max_chars: int = 4000, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """The text of a PDF or a plain-text file, at most `max_chars`; '' for other formats."""
    _check_size(content, max_bytes, "document")
    base_type = _base_type(mime_type)
    if base_type == "application/pdf" or content.startswith(b"%PDF-"):
        return _pdf_text(content, max_chars)
    if base_type.startswith("text/") or base_type in TEXT_MIME_TYPES:
        return _tidy(_decode(content))[:max_chars].strip()
    return ""


def _pdf_text(content: bytes, max_chars: int) -> str:
    from pypdf import PdfReader

    chunks: list[str] = []
    length = 0
    # pypdf raises many exception types on malformed files (its own, ValueError, KeyError...):
    # whatever the cause, a file we cannot parse is one we cannot read, now or later.
    try:
        reader = PdfReader(io.BytesIO(content))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnderstandingError("the PDF is password-protected")
        for page in reader.pages[:MAX_PDF_PAGES]:
            text = _tidy(page.extract_text() or "")
            if text:
                chunks.append(text)
                length += len(text)
            if length >= max_chars:
                break
    except UnderstandingError:
        raise
    except Exception as exc:
        raise UnderstandingError(f"unreadable PDF ({type(exc).__name__})") from exc
    return "\n".join(chunks)[:max_chars].strip()


def _client(llm: LLMConfig) -> OpenAI:
    # No SDK retries: the task that calls us owns the retry policy (with backoff between attempts),
    # and a worker must not sleep on a long `retry-after` while other media waits.
    return make_client(llm, max_retries=0)


def _from_sdk(exc: openai.OpenAIError, what: str) -> UnderstandingError:
    """Our error for an SDK failure. Never the SDK's message: it may echo the response body."""
    if isinstance(exc, openai.APITimeoutError):
        return UnderstandingError(f"{what} timed out", transient=True)
    if isinstance(exc, openai.APIConnectionError):
        return UnderstandingError(f"{what} server unreachable", transient=True)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        transient = status in TRANSIENT_STATUSES or status >= 500
        return UnderstandingError(f"{what} failed: HTTP {status}", transient=transient)
    return UnderstandingError(f"{what} failed: {type(exc).__name__}")


def _check_size(content: bytes, max_bytes: int, what: str) -> None:
    if not content:
        raise UnderstandingError(f"the {what} file is empty")
    if len(content) > max_bytes:
        raise UnderstandingError(f"the {what} file has {len(content)} bytes, more than the {max_bytes} we read")


def _audio_file_name(file_name: str, mime_type: str) -> str:
    """An extension-bearing name the transcription endpoint recognises (WhatsApp's '.oga' is not one)."""
    extension = file_name.rsplit(".", 1)[1].lower() if "." in file_name else ""
    if extension in AUDIO_EXTENSIONS:
        return file_name.rsplit("/", 1)[-1]
    return f"audio.{AUDIO_EXTENSION_FOR.get(_base_type(mime_type), extension or 'ogg')}"


def _base_type(mime_type: str) -> str:
    return (mime_type or "").split(";")[0].strip().lower()


def _decode(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Brazilian spreadsheets and text exported on Windows are often cp1252; latin-1 always decodes.
        try:
            return content.decode("cp1252")
        except UnicodeDecodeError:
            return content.decode("latin-1")


def _tidy(text: str) -> str:
    lines = (_BLANK_RUNS.sub(" ", line).strip() for line in text.replace("\r\n", "\n").split("\n"))
    return _LINE_RUNS.sub("\n\n", "\n".join(lines)).strip()
