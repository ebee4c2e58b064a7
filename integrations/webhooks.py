"""Webhook endpoints of the WhatsApp gateways (DESIGN.md §5-6).

Order of checks: size (413) → JSON (400) → which chip (400/404) → authenticity on the raw bytes
(401) → parse (400) → record in one transaction → 202 when a new customer message was queued,
200 for duplicates and events we do not use. A database outage answers 503 so the gateway
retries; a valid but uninteresting event never gets a 4xx (Evolution stops retrying on 4xx).
This is the only integrations module that imports domain services.
"""

from __future__ import annotations

import json

import structlog
from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from prometheus_client import Counter

from chips.selectors import RoutedChip, chips_for_webhook
from conversations.inbound import webhook_events_record
from integrations.providers.base import Provider, WebhookRejected
from integrations.providers.registry import kinds_for_endpoint, provider_class, provider_for

log = structlog.get_logger(__name__)

WEBHOOKS = Counter("recado_webhook_requests_total", "Webhook requests by endpoint and answer", ["endpoint", "status"])


def webhook_view(endpoint: str):
    @csrf_exempt
    @require_POST
    def view(request: HttpRequest) -> JsonResponse:
        response = receive(request, endpoint=endpoint)
        WEBHOOKS.labels(endpoint=endpoint, status=str(response.status_code)).inc()
        return response

    view.__name__ = f"{endpoint}_webhook"
    return view


def receive(request: HttpRequest, *, endpoint: str) -> JsonResponse:
    try:
        raw = _read_body(request)
        payload = _decode(raw)
        route_key = provider_class(kinds_for_endpoint(endpoint)[0]).route_key(payload)
        chip, provider = _authenticated_chip(request, raw, endpoint=endpoint, route_key=route_key)
        events = provider.parse(payload)
        outcome = webhook_events_record(chip=chip, events=events)
    except WebhookRejected as rejection:
        return JsonResponse({"error": rejection.message}, status=rejection.status)
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
    body = {
        "queued": len(outcome.queued),
        "recorded": outcome.recorded,
        "duplicates": outcome.duplicates,
        "statuses": outcome.statuses,
        "ignored": outcome.ignored,
    }
    return JsonResponse(body, status=202 if outcome.queued else 200)


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


def _decode(raw: bytes) -> dict:
    try:
        payload = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise WebhookRejected(400, "body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise WebhookRejected(400, "body must be a JSON object")
    return payload


def _authenticated_chip(
    request: HttpRequest, raw: bytes, *, endpoint: str, route_key: str
) -> tuple[RoutedChip, Provider]:
    candidates = chips_for_webhook(endpoint=endpoint, route_key=route_key)
    if not candidates:
        raise WebhookRejected(404, f"unknown instance {route_key!r}")
    for chip in candidates:
        provider = provider_for(chip.gateway)
        if provider.authenticate(request.headers, raw):
            return chip, provider
    raise WebhookRejected(401, "missing or invalid webhook credentials")
