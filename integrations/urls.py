"""One URL per webhook endpoint; providers whose URL carries a secret get a `<secret>/` segment.

`webhook_route` finds a webhook's view without Django's URL resolver, for the WSGI handler that
serves these URLs (config/wsgi.py); `webhook_urls` gives the same views to the URLconf.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from django.http import HttpRequest, JsonResponse
from django.urls import path, re_path

from integrations.providers.registry import kinds_for_endpoint, provider_class, webhook_endpoints
from integrations.webhooks import salvy_webhook, webhook_view

PREFIX = "/webhooks/"


# Django's <slug:…> converter.
SLUG = re.compile(r"[-a-zA-Z0-9_]+")


@dataclass(frozen=True)
class Endpoint:
    view: Callable
    path_secret: bool = False  # /webhooks/<name>/<secret>/
    event_paths: bool = False  # also /webhooks/<name>/<event>/ (see Provider.webhook_event_paths)


@cache
def _endpoints() -> dict[str, Endpoint]:
    endpoints = {}
    for name in webhook_endpoints():
        provider_cls = provider_class(kinds_for_endpoint(name)[0])
        endpoints[name] = Endpoint(
            webhook_view(name), provider_cls.webhook_path_secret, provider_cls.webhook_event_paths
        )
    endpoints["salvy"] = Endpoint(salvy_webhook)
    return endpoints


def webhook_urls() -> list:
    """Each webhook URL with its trailing slash, and without it: a gateway set up with the URL typed
    without the slash would otherwise get a redirect, which HTTP clients follow for a POST as a GET
    (the body dropped), so every delivery would be lost."""
    urls = []
    for name, endpoint in _endpoints().items():
        routes = [f"webhooks/{name}/<str:secret>" if endpoint.path_secret else f"webhooks/{name}"]
        if endpoint.event_paths:
            routes.append(f"webhooks/{name}/<slug:event>")
        for index, route in enumerate(routes):
            urls.append(path(f"{route}/", endpoint.view, name=f"webhook-{name}" if index == 0 else None))
            urls.append(path(route, endpoint.view))
    urls.append(re_path(r"^webhooks/", unknown_webhook))  # last: what no pattern above took
    return urls


def unknown_webhook(request: HttpRequest) -> JsonResponse:
    """A path below /webhooks/ that is no webhook URL: a 404 a gateway's log can explain (JSON, not a page)."""
    known = ", ".join(f"{PREFIX}{name}/" for name in _endpoints())
    return JsonResponse({"error": f"no webhook endpoint at {request.path}; the endpoints are {known}"}, status=404)


def webhook_route(path_info: str) -> tuple[Callable, dict[str, str]] | None:
    """The view and arguments the URLconf gives `path_info`, if it is a webhook URL; None otherwise
    (below /webhooks/, the URLconf then gives `unknown_webhook`)."""
    if not path_info.startswith(PREFIX):
        return None
    name, *rest = path_info[len(PREFIX) :].removesuffix("/").split("/")
    endpoint = _endpoints().get(name)
    if endpoint is None:
        return None
    if endpoint.path_secret:
        # As the URLconf's <str:secret>: one non-empty segment.
        return (endpoint.view, {"secret": rest[0]}) if len(rest) == 1 and rest[0] else None
    if not rest:
        return endpoint.view, {}
    if endpoint.event_paths and len(rest) == 1 and SLUG.fullmatch(rest[0]):
        return endpoint.view, {"event": rest[0]}
    return None
