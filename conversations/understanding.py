"""Inbound media understood: a voice note transcribed, an image described, a document's text read.

Runs as a task right after the file is stored (conversations.media). The customer's turn waits
while an audio, image or document is neither understood nor failed (turns.turn_wait), so every
path here ends in `media["understood"]`: with `media_text`, or with `media["understanding_error"]`
when it could not be read, and the agent then tells the customer so instead of pretending.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import structlog
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction

from agent.understanding import UnderstandingError, describe_image, document_text, transcribe_audio
from conversations.agent_context import UNDERSTOOD_KINDS, llm_config
from conversations.media import MEDIA_KINDS
from conversations.models import AgentProfile, Message
from conversations.routing import profile_for_chip

log = structlog.get_logger(__name__)

# What the agent is given of one file: enough for a bill or a long voice note, not a whole book.
MEDIA_TEXT_MAX_CHARS = 4000
MAX_ERROR_LENGTH = 300


class TransientUnderstandingError(Exception):
    """Understanding may work later (model server busy, rate-limited or unreachable)."""


@dataclass(frozen=True)
class StoredFile:
    content: bytes
    mime_type: str
    file_name: str


def media_understand(*, message_id: int) -> str:
    """Understand a stored media file once; returns the text the agent will be given ('' if none).

    Raises TransientUnderstandingError when trying again later may help; any other failure is
    recorded on the message, so its turn goes on without it.
    """
    message = (
        Message.objects.select_related("conversation__profile").filter(pk=message_id, kind__in=MEDIA_KINDS).first()
    )
    if message is None or message.media.get("understood"):
        return message.media_text if message else ""
    path = message.media.get("path")
    if message.media.get("error") or not path:
        # Not stored (the fetch failed: the agent is already told) or not yet (the fetch calls us).
        return ""
    if message.kind not in UNDERSTOOD_KINDS:
        # Videos and stickers: nothing the agent reads; the placeholder tells it what came.
        return _record(message_id, text="", error="")
    reader = READERS[message.kind]
    try:
        stored = _open(message, path)
        text = reader(stored, _profile(message))
    except UnderstandingError as exc:
        if exc.transient:
            log.info("media.understanding_retry", message_id=message_id, kind=message.kind, error=str(exc))
            raise TransientUnderstandingError(str(exc)) from exc
        return _record(message_id, text="", error=str(exc))
    if not text.strip():
        return _record(message_id, text="", error=f"nothing could be read from the {message.kind}")
    return _record(message_id, text=text, error="")


def media_understanding_abandon(*, message_id: int, error: str) -> None:
    """Give up after the last retry: the turn must not wait for this file any longer."""
    message = Message.objects.filter(pk=message_id, kind__in=MEDIA_KINDS).first()
    if message is not None and not message.media.get("understood"):
        _record(message_id, text="", error=f"gave up after retries: {error}")


# --- readers: one per kind, each returning text or raising UnderstandingError ------------------


def _transcription(stored: StoredFile, profile: AgentProfile) -> str:
    llm = llm_config(profile)
    model = settings.TRANSCRIPTION_MODEL
    if not (model and llm.api_key):
        raise UnderstandingError("no transcription model configured (TRANSCRIPTION_MODEL and OPENAI_API_KEY)")
    return transcribe_audio(
        stored.content,
        mime_type=stored.mime_type,
        file_name=stored.file_name,
        llm=llm,
        model=model,
        max_bytes=settings.MEDIA_UNDERSTANDING_MAX_BYTES,
    )


def _description(stored: StoredFile, profile: AgentProfile) -> str:
    llm = llm_config(profile)
    model = settings.AGENT_VISION_MODEL or llm.model
    if not (model and llm.api_key):
        raise UnderstandingError("no vision model configured (AGENT_VISION_MODEL or AGENT_MODEL, and OPENAI_API_KEY)")
    return describe_image(
        stored.content,
        mime_type=stored.mime_type,
        hint=profile.image_hint,
        llm=llm,
        model=model,
        max_bytes=settings.MEDIA_UNDERSTANDING_MAX_BYTES,
    )


def _document(stored: StoredFile, profile: AgentProfile) -> str:
    return document_text(
        stored.content,
        mime_type=stored.mime_type,
        max_chars=MEDIA_TEXT_MAX_CHARS,
        max_bytes=settings.MEDIA_UNDERSTANDING_MAX_BYTES,
    )


READERS: dict[str, Callable[[StoredFile, AgentProfile], str]] = {
    "audio": _transcription,
    "image": _description,
    "document": _document,
}


# --- helpers --------------------------------------------------------------------------------------


def _open(message: Message, path: str) -> StoredFile:
    try:
        size = default_storage.size(path)
        if size > settings.MEDIA_UNDERSTANDING_MAX_BYTES:
            raise UnderstandingError(
                f"the {message.kind} file has {size} bytes, more than the "
                f"{settings.MEDIA_UNDERSTANDING_MAX_BYTES} we read"
            )
        with default_storage.open(path, "rb") as file:
            content = file.read()
    except OSError as exc:  # a missing or unreadable file will not appear by itself
        raise UnderstandingError(f"stored file unreadable ({type(exc).__name__})") from exc
    return StoredFile(
        content=content,
        mime_type=message.media.get("mime_type", ""),
        file_name=message.media.get("file_name", "") or path,
    )


def _profile(message: Message) -> AgentProfile:
    # The conversation's profile; a message not attached yet reads with its chip's.
    if message.conversation is not None:
        return message.conversation.profile
    return profile_for_chip(message.chip_id)


def _record(message_id: int, *, text: str, error: str) -> str:
    """Mark the media understood (with its text, or why there is none); a late duplicate changes nothing."""
    text = text.strip()[:MEDIA_TEXT_MAX_CHARS]
    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=message_id)
        if message.media.get("understood"):
            return message.media_text
        media = {**message.media, "understood": True}
        if error:
            media["understanding_error"] = error[:MAX_ERROR_LENGTH]
        message.media, message.media_text = media, text
        message.save(update_fields=["media", "media_text", "updated_at"])
    if error:
        log.warning("media.not_understood", message_id=message_id, kind=message.kind, error=error[:MAX_ERROR_LENGTH])
    else:
        log.info("media.understood", message_id=message_id, kind=message.kind, chars=len(text))
    return text
