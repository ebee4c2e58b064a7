"""Reading what the fleet told the operators (texts caught by the `notifications` fixture)."""

from __future__ import annotations


def of_kind(texts: list[str], icon: str) -> list[str]:
    """The notifications carrying an event's icon (see chips.notifications.EVENT_ICONS)."""
    return [text for text in texts if text.startswith(icon)]
