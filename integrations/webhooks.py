"""Webhook endpoints of the WhatsApp gateways (DESIGN.md §5-6), one view for every provider.

Order of checks: size (413) → JSON (400) → which chip (400/404) → authenticity on the raw bytes
(401) → parse (400) → record in one transaction → 202 when a new customer message was queued,
200 for duplicates and events we do not use. A database outage answers 503 so the gateway
retries; a valid but uninteresting event never gets a 4xx (Evolution stops retrying on 4xx).
This is the only integrations module that imports domain services.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import structlog
from django.conf import settings
from django.db import DatabaseError, DataError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from prometheus_client import Counter

from chips.selectors import RoutedChip, chips_for_webhook, gateway_chip, handshake_tokens
from conversations.inbound import RecordOutcome, webhook_events_record
from integrations.providers.base import Provider, WebhookRejected, WebhookRequest
from integrations.providers.registry import kinds_for_endpoint, provider_class, provider_for

log = structlog.get_logger(__name__)

WEBHOOKS = Counter("recado_webhook_requests_total", "Webhook requests by endpoint and answer", ["endpoint", "status"])


def webhook_view(endpoint: str):
    """The Django view serving /webhooks/<endpoint>/ (and /<secret>/ where the provider uses one)."""
    provider_cls = provider_class(kinds_for_endpoint(endpoint)[0])

    @csrf_exempt
    def view(request: HttpRequest, secret: str = "") -> HttpResponse:
        if request.method == "GET" and provider_cls.webhook_handshake:
            response = _handshake(request, endpoint, provider_cls)
        elif request.method == "POST":
            response = receive(request, endpoint=endpoint, path_secret=secret)
        else:
            response = JsonResponse({"error": f"{request.method} not allowed"}, status=405)
        WEBHOOKS.labels(endpoint=endpoint, status=str(response.status_code)).inc()
        return response

    view.__name__ = f"{endpoint}_webhook"
    return view


def receive(request: HttpRequest, *, endpoint: str, path_secret: str = "") -> JsonResponse:
    try:
        raw = _read_body(request)
        payload = _decode(raw)
        parts = provider_class(kinds_for_endpoint(endpoint)[0]).split(payload)
        webhook = WebhookRequest(headers=request.headers, body=raw, path_secret=path_secret, query=request.GET)
        chip, provider = _authenticated_chip(webhook, endpoint=endpoint, route_key=parts[0][0])
        outcome = RecordOutcome()
        for route_key, part in parts:
            target = chip if route_key in (None, chip.address.instance_name) else gateway_chip(chip, route_key)
            if target is None:
                outcome.ignored.append(f"no chip {route_key!r} on this gateway")
                continue
            outcome.merge(webhook_events_record(chip=target, events=provider.parse(part)))
    except WebhookRejected as rejection:
        return JsonResponse({"error": rejection.message}, status=rejection.status)
    except DataError:
        # The body is at fault (a NUL character, an id longer than any real one): retrying cannot help.
        return JsonResponse(
            {"error": "body has a value that cannot be stored (too long, or a NUL character)"}, status=400
        )
    except DatabaseError as exc:
        log.error("webhook.database_unavailable", endpoint=endpoint, error=exc.__class__.__name__)
        return JsonResponse({"error": "database unavailable, retry later"}, status=503)
    log.info(
        "webhook.recorded",
        endpoint=endpoint,
        chip_id=chip.chip_id,
        message_ids=outcome.queued,
        duplicates=outcome.duplicates,
        statuses=outcome.statuses,
    )
    return JsonResponse(_answer(outcome), status=202 if outcome.queued else 200)


def _answer(outcome: RecordOutcome) -> dict[str, Any]:
    return {
        "queued": bool(outcome.queued),
        "messages": len(outcome.queued),
        "recorded": outcome.recorded,
        "duplicates": outcome.duplicates,
        "statuses": outcome.statuses,
        "ignored": outcome.ignored,
    }


def _read_body(request: HttpRequest) -> bytes:
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise WebhookRejected(400, "invalid Content-Length") from None
    if declared > limit:
        raise WebhookRejected(413, f"body larger than {limit} bytes")
    raw = request.read(limit + 1)  # read() streams: no DATA_UPLOAD_MAX_MEMORY_SIZE error page
    if len(raw) > limit:
        raise WebhookRejected(413, f"body larger than {limit} bytes")
    return raw


def _decode(raw: bytes) -> Mapping[str, Any]:
    try:
        payload = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise WebhookRejected(400, "body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise WebhookRejected(400, "body must be a JSON object")
    return payload


def _authenticated_chip(
    webhook: WebhookRequest, *, endpoint: str, route_key: str | None
) -> tuple[RoutedChip, Provider]:
    candidates = chips_for_webhook(endpoint=endpoint, route_key=route_key)
    if not candidates:
        raise WebhookRejected(404, f"unknown instance {route_key!r}" if route_key else "no chip for this endpoint")
    for chip in candidates:
        provider = provider_for(chip.gateway)
        if provider.authenticate(webhook):
            return chip, provider
    raise WebhookRejected(401, "missing or invalid webhook credentials")


def _handshake(request: HttpRequest, endpoint: str, provider_cls: type[Provider]) -> HttpResponse:
    """Meta's GET verification: echo `hub.challenge` when `hub.verify_token` is one of ours."""
    for token in handshake_tokens(kinds=kinds_for_endpoint(endpoint)):
        challenge = provider_cls.handshake(request.GET, token)
        if challenge is not None:
            return HttpResponse(challenge, content_type="text/plain")
    return JsonResponse({"error": "verification token does not match"}, status=403)
