"""Whether each outside service is configured and answering, for GET /api/health.

Probes are short, read-only requests: nothing is posted, nothing is bought, no message is sent. A
result names no URL, credential or response body (the endpoint is for monitoring, which needs none
of them): only whether the service answered, and if not, why in a few words.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import httpx
from django.conf import settings

from integrations.salvy.client import SalvyClient
from integrations.salvy.errors import SalvyError

PROBE_TIMEOUT_SECONDS = 3.0
OPENAI_DEFAULT_URL = "https://api.openai.com/v1"


@dataclass(frozen=True)
class Probe:
    configured: bool
    # None: not probed (not configured, or no probe exists without a side effect such as a post).
    reachable: bool | None = None
    error: str = ""

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def failing(self) -> bool:
        """Configured, probed, and not answering as it should."""
        return self.configured and self.reachable is False


NOT_CONFIGURED = Probe(configured=False)


def http_probe(url: str, *, headers: dict[str, str] | None = None) -> Probe:
    """GET `url`: reachable when the server answers, unless it refuses the credentials or fails (5xx).

    Any other answer (a 404 from a server without that route, say) still shows a server that is up.
    """
    try:
        response = httpx.get(url, headers=headers, timeout=PROBE_TIMEOUT_SECONDS, follow_redirects=False)
    except httpx.TimeoutException:
        return Probe(configured=True, reachable=False, error="timed out")
    except httpx.HTTPError as exc:
        return Probe(configured=True, reachable=False, error=f"no connection ({exc.__class__.__name__})")
    return _answered(response.status_code)


def _answered(status_code: int) -> Probe:
    if status_code in (401, 403):
        return Probe(configured=True, reachable=False, error=f"HTTP {status_code}: credentials refused")
    if status_code >= 500:
        return Probe(configured=True, reachable=False, error=f"HTTP {status_code}")
    return Probe(configured=True, reachable=True)


def openai_probe() -> Probe:
    """The model server: its model list, with the API key."""
    if not (settings.OPENAI_API_KEY and settings.AGENT_MODEL):
        return NOT_CONFIGURED
    base = (settings.OPENAI_BASE_URL or OPENAI_DEFAULT_URL).rstrip("/")
    return http_probe(f"{base}/models", headers={"Authorization": f"Bearer {settings.OPENAI_API_KEY}"})


def salvy_probe() -> Probe:
    """Salvy: the area codes it sells in, with the API token (one attempt, no retries)."""
    if not (settings.SALVY_API_TOKEN or "").strip():
        return NOT_CONFIGURED
    client = SalvyClient(
        settings.SALVY_API_URL, settings.SALVY_API_TOKEN, timeout=PROBE_TIMEOUT_SECONDS, max_attempts=1
    )
    try:
        client.area_codes()
    except SalvyError as exc:
        if exc.code in ("timeout", "network"):
            return Probe(
                configured=True, reachable=False, error="timed out" if exc.code == "timeout" else "no connection"
            )
        if exc.status_code is not None and exc.status_code >= 400:
            return _answered(exc.status_code)
        return Probe(configured=True, reachable=False, error="unexpected answer")
    return Probe(configured=True, reachable=True)


def slack_probe() -> Probe:
    """Slack's incoming webhook takes posts only: probing it would post to the channel, so it is not."""
    return Probe(configured=True) if settings.SLACK_WEBHOOK_URL else NOT_CONFIGURED
