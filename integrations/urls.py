"""One URL per webhook endpoint; providers whose URL carries a secret get a `<secret>/` segment.

`webhook_route` finds a webhook's view without Django's URL resolver, for the WSGI handler that
serves these URLs (config/wsgi.py); `webhook_urls` gives the same views to the URLconf.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from django.urls import path

from integrations.providers.registry import kinds_for_endpoint, provider_class, webhook_endpoints
from integrations.webhooks import salvy_webhook, webhook_view

PREFIX = "/webhooks/"


@cache
def _views() -> dict[str, tuple[Callable, bool]]:
    """Endpoint name → (its view, whether its URL carries a secret segment)."""
    views = {
        endpoint: (webhook_view(endpoint), provider_class(kinds_for_endpoint(endpoint)[0]).webhook_path_secret)
        for endpoint in webhook_endpoints()
    }
    views["salvy"] = (salvy_webhook, False)
    return views


def webhook_urls() -> list:
    """Each webhook URL with its trailing slash, and without it: a gateway set up with the URL typed
    without the slash would otherwise get a redirect, which HTTP clients follow for a POST as a GET
    (the body dropped), so every delivery would be lost."""
    urls = []
    for endpoint, (view, has_secret) in _views().items():
        route = f"webhooks/{endpoint}/<str:secret>" if has_secret else f"webhooks/{endpoint}"
        urls.append(path(f"{route}/", view, name=f"webhook-{endpoint}"))
        urls.append(path(route, view))
    return urls


def webhook_route(path_info: str) -> tuple[Callable, dict[str, str]] | None:
    """The view and arguments the URLconf gives `path_info`, if it is a webhook URL; None otherwise."""
    if not path_info.startswith(PREFIX):
        return None
    tail = path_info[len(PREFIX) :]
    endpoint, *rest = tail.removesuffix("/").split("/")
    found = _views().get(endpoint)
    if found is None:
        return None
    view, has_secret = found
    if has_secret:
        # As the URLconf's <str:secret>: one non-empty segment.
        return (view, {"secret": rest[0]}) if len(rest) == 1 and rest[0] else None
    return (view, {}) if not rest else None
