"""Webhook endpoints of the WhatsApp gateways (DESIGN.md §5-6), one view for every provider.

Order of checks: size (413) → JSON (400) → which chip (400/404) → authenticity on the raw bytes
(401) → parse (400) → record in one transaction → 202 when a new customer message was queued,
200 for duplicates and events we do not use. A database outage answers 503 so the gateway
retries; a valid but uninteresting event never gets a 4xx (Evolution stops retrying on 4xx).
This is the only integrations module that imports domain services. Salvy (numbers, not a
WhatsApp gateway) has its own view at the end, verified with Svix.
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

from chips.salvy_sync import salvy_event_record
from chips.selectors import RoutedChip, chips_for_webhook, gateway_chip, handshake_tokens
from conversations.inbound import RecordOutcome, webhook_events_record
from integrations.providers.base import Provider, WebhookRejected, WebhookRequest
from integrations.providers.registry import kinds_for_endpoint, provider_class, provider_for
from integrations.salvy import ACCOUNT_EVENTS, SMS_RECEIVED, parse_account_event, parse_sms_received
from integrations.svix_verify import SecretInvalid, SignatureInvalid, verify_svix

log = structlog.get_logger(__name__)

WEBHOOKS = Counter("recado_webhook_requests_total", "Webhook requests by endpoint and answer", ["endpoint", "status"])


def webhook_view(endpoint: str):
    """The Django view serving /webhooks/<endpoint>/ (and /<secret>/ where the provider uses one)."""
    provider_cls = provider_class(kinds_for_endpoint(endpoint)[0])

    @csrf_exempt
    def view(request: HttpRequest, secret: str = "", event: str = "") -> HttpResponse:
        # `event`: the segment of a per-event URL; the body names the event, and is what is read.
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
    except (WebhookRejected, DatabaseError) as exc:
        return _refusal(exc, endpoint=endpoint)
    log.info(
        "webhook.recorded",
        endpoint=endpoint,
        chip_id=chip.chip_id,
        message_ids=outcome.queued,
        duplicates=outcome.duplicates,
        statuses=outcome.statuses,
    )
    return JsonResponse(_answer(outcome), status=202 if outcome.queued else 200)


def _refusal(exc: WebhookRejected | DatabaseError, *, endpoint: str) -> JsonResponse:
    """The answer to a request we could not record: the sender's fault (4xx) or ours, for now (503)."""
    if isinstance(exc, WebhookRejected):
        return JsonResponse({"error": exc.message}, status=exc.status)
    if isinstance(exc, DataError):
        # The body is at fault (a NUL character, an id longer than any real one): retrying cannot help.
        return JsonResponse(
            {"error": "body has a value that cannot be stored (too long, or a NUL character)"}, status=400
        )
    log.error("webhook.database_unavailable", endpoint=endpoint, error=exc.__class__.__name__)
    return JsonResponse({"error": "database unavailable, retry later"}, status=503)


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
    # read() streams: no DATA_UPLOAD_MAX_MEMORY_SIZE error page. A chunked body has no length, and Django
    # reads it as empty: the WSGI server has removed the chunk framing and ends its input stream where
    # the body ends, so such a body is read from there.
    stream = request.META["wsgi.input"] if _chunked(request) else request
    raw = stream.read(limit + 1)
    if len(raw) > limit:
        raise WebhookRejected(413, f"body larger than {limit} bytes")
    return raw


def _chunked(request: HttpRequest) -> bool:
    """A body sent in chunks (HTTP/1.1 `Transfer-Encoding: chunked`), without a Content-Length."""
    return (
        not request.META.get("CONTENT_LENGTH") and "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    )


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


# --- Salvy ------------------------------------------------------------------------------------------

SVIX_ID_MAX_LENGTH = 100


@csrf_exempt
def salvy_webhook(request: HttpRequest) -> JsonResponse:
    """POST /webhooks/salvy/: Svix-signed `sms.received` and `phone-account.*` events from Salvy.

    Order of checks: our secret is set (503: a misconfiguration, and Svix retries) → size (413) →
    Svix signature on the raw bytes (401) → JSON and event shape (400) → record once per `svix-id`
    (a redelivery answers 200 and stores nothing). Salvy needs a 2xx within about 15 s: nothing here
    calls Salvy; account events only queue a fetch of the account's state.
    """
    if request.method != "POST":
        response = JsonResponse({"error": f"{request.method} not allowed"}, status=405)
    else:
        response = _salvy_receive(request)
    WEBHOOKS.labels(endpoint="salvy", status=str(response.status_code)).inc()
    return response


def _salvy_receive(request: HttpRequest) -> JsonResponse:
    secret = settings.SALVY_WEBHOOK_SECRET
    if not secret:
        log.error("salvy_webhook.no_secret")
        return JsonResponse({"error": "SALVY_WEBHOOK_SECRET is not set: Salvy webhooks cannot be verified"}, status=503)
    try:
        raw = _read_body(request)
        try:
            verify_svix(secret, request.headers, raw)
        except SecretInvalid:
            log.error("salvy_webhook.bad_secret")
            return JsonResponse(
                {"error": "SALVY_WEBHOOK_SECRET is not a valid Svix signing secret (whsec_...)"}, status=503
            )
        except SignatureInvalid as exc:
            return JsonResponse({"error": str(exc)}, status=401)
        payload = _decode(raw)
        svix_id = request.headers.get("svix-id") or request.headers.get("webhook-id") or ""
        if len(svix_id) > SVIX_ID_MAX_LENGTH:
            raise WebhookRejected(400, f"svix-id longer than {SVIX_ID_MAX_LENGTH} characters")
        event_type = payload.get("type")
        if not isinstance(event_type, str) or not event_type:
            raise WebhookRejected(400, "body has no event 'type'")
        sms, account_id = None, ""
        try:
            if event_type == SMS_RECEIVED:
                sms = parse_sms_received(payload)
            elif event_type in ACCOUNT_EVENTS:
                account_id = parse_account_event(payload)[1]
        except ValueError as exc:
            raise WebhookRejected(400, str(exc)) from None
        outcome = salvy_event_record(
            svix_id=svix_id, event_type=event_type, payload=payload, sms=sms, phone_account_id=account_id
        )
    except (WebhookRejected, DatabaseError) as exc:
        return _refusal(exc, endpoint="salvy")
    log.info(
        "salvy_webhook.recorded",
        event_type=event_type,
        duplicate=outcome.duplicate,
        sms_code_id=outcome.sms_code_id,
        chip_id=outcome.chip_id,
        code=outcome.code_found,
    )
    return JsonResponse(
        {
            "recorded": not outcome.duplicate and not outcome.ignored,
            "duplicate": outcome.duplicate,
            "event": event_type,
            "chip": outcome.chip_id,
            "code_found": outcome.code_found,
            "refresh_queued": outcome.refresh_queued,
            "ignored": outcome.ignored,
        }
    )
