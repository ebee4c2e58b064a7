"""Inbound media: fetched through the provider's own mechanism into Django storage, by a task.

Never in the webhook request: downloads are slow and providers' media links expire (Z-API deletes
files after 30 days; WhatsApp's own URLs are encrypted and need the gateway to decrypt them).
"""

from __future__ import annotations

import mimetypes

import structlog
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from chips.selectors import chip_for_send
from conversations.models import Message
from integrations.providers.base import NotSupported, ProviderError, StoredMedia
from integrations.providers.registry import provider_for

log = structlog.get_logger(__name__)

MEDIA_KINDS = frozenset({"image", "audio", "video", "document", "sticker"})


class TransientMediaError(Exception):
    """The download may work later (gateway busy or unreachable)."""


def media_fetch(*, message_id: int) -> str | None:
    """Store the file of a media message; returns its storage path (None when there is none)."""
    message = Message.objects.filter(pk=message_id, kind__in=MEDIA_KINDS).first()
    if message is None or message.media.get("path"):
        return message.media.get("path") if message else None
    chip = chip_for_send(message.chip_id)
    provider = provider_for(chip.gateway, timeout=settings.GATEWAY_HTTP_TIMEOUT)
    stored = StoredMedia(
        provider_message_id=message.provider_message_id or "",
        media_url=message.media.get("url", ""),
        media_id=message.media.get("id", ""),
        mime_type=message.media.get("mime_type", ""),
        file_name=message.media.get("file_name", ""),
        raw=message.raw,
    )
    try:
        file = provider.download_media(chip.address, stored)
    except NotSupported as exc:
        return _record_error(message, str(exc))
    except ProviderError as exc:
        if exc.permanent:
            return _record_error(message, str(exc))
        raise TransientMediaError(str(exc)) from exc
    if len(file.content) > settings.MEDIA_MAX_BYTES:
        return _record_error(message, f"file larger than {settings.MEDIA_MAX_BYTES} bytes")
    mime_type = file.mime_type or stored.mime_type
    path = default_storage.save(_file_name(message, mime_type, file.file_name), ContentFile(file.content))
    Message.objects.filter(pk=message.pk).update(
        media={**message.media, "path": path, "size": len(file.content), "mime_type": mime_type}
    )
    log.info("media.stored", message_id=message.pk, size=len(file.content))
    return path


def _file_name(message: Message, mime_type: str, given: str) -> str:
    extension = mimetypes.guess_extension((mime_type or "").split(";")[0].strip()) or ""
    if given and "." in given:
        extension = "." + given.rsplit(".", 1)[1][:10]
    return f"media/{message.chip_id}/{message.pk}{extension}"


def _record_error(message: Message, error: str) -> None:
    Message.objects.filter(pk=message.pk).update(media={**message.media, "error": error[:300]})
    log.warning("media.unavailable", message_id=message.pk, error=error[:300])
    return None
