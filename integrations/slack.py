"""Operator notifications through a Slack incoming webhook.

The webhook URL is itself the credential (anyone holding it can post): it never goes into a log
line or an exception message.
"""

from __future__ import annotations

from typing import Any

import httpx

USER_AGENT = "Recado/0.1"


class SlackError(Exception):
    """Posting to Slack failed. `permanent`: retrying cannot help (bad payload, archived channel...)."""

    def __init__(self, message: str, *, permanent: bool, status_code: int | None = None, code: str = ""):
        super().__init__(message)
        self.permanent = permanent
        self.status_code = status_code
        self.code = code


class SlackClient:
    """Posts messages to one incoming webhook."""

    def __init__(self, webhook_url: str, *, http: httpx.Client | None = None, timeout: float = 10.0):
        if not webhook_url or not webhook_url.strip():
            raise ValueError("a Slack webhook URL is required")
        self._url = webhook_url.strip()
        self._http = http
        self.timeout = timeout

    def __repr__(self) -> str:
        return "<SlackClient (webhook URL hidden)>"

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(timeout=self.timeout, headers={"User-Agent": USER_AGENT})
        return self._http

    def post(self, text: str, *, blocks: list[Any] | None = None) -> None:
        """Post a message; with Block Kit `blocks`, `text` is the notification fallback.

        Slack answers 200 with the plain-text body `ok`; errors are a plain-text code such as
        `invalid_payload` (400) or `channel_is_archived` (410).
        """
        payload: dict[str, Any] = {"text": text}
        if blocks:
            payload["blocks"] = blocks
        try:
            response = self.http.post(self._url, json=payload, timeout=self.timeout)
        except httpx.RequestError as exc:
            # exc's own text can include the URL: only its class name is kept, and no chaining.
            raise SlackError(f"cannot reach Slack ({exc.__class__.__name__})", permanent=False) from None
        code = response.text.strip()[:100]
        if response.status_code == 200 and code == "ok":
            return
        if response.status_code == 200:
            raise SlackError(f"Slack answered 200 with an unexpected body: {code!r}", permanent=False, status_code=200)
        transient = response.status_code == 429 or response.status_code >= 500
        verb = "is rate limiting us" if response.status_code == 429 else "refused the message"
        raise SlackError(
            f"Slack {verb} (HTTP {response.status_code}: {code or 'no body'})",
            permanent=not transient,
            status_code=response.status_code,
            code=code,
        )


def slack_client_from_settings(*, http: httpx.Client | None = None) -> SlackClient | None:
    """A client for SLACK_WEBHOOK_URL, or None when notifications to Slack are not configured."""
    from django.conf import settings

    url = (getattr(settings, "SLACK_WEBHOOK_URL", "") or "").strip()
    return SlackClient(url, http=http) if url else None
