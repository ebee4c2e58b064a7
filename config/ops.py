"""Liveness and readiness endpoints for load balancers and orchestrators, and the integrations' health."""

from __future__ import annotations

import hmac
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from django_prometheus.exports import ExportToDjangoView
from kombu import Connection

from chips.gateway_health import gateway_probe, gateway_targets
from integrations.health import openai_probe, salvy_probe, slack_probe


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive and serving requests."""
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Database and broker reachable; 503 otherwise, so traffic goes elsewhere."""
    checks = {"database": _database_ok(), "broker": _broker_ok()}
    ready = all(checks.values())
    return JsonResponse(
        {
            "status": "ready" if ready else "unavailable",
            "checks": {k: "ok" if v else "down" for k, v in checks.items()},
        },
        status=200 if ready else 503,
    )


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus' text format; with METRICS_TOKEN set, only for a scraper that sends it as a Bearer token."""
    token = settings.METRICS_TOKEN
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            response = JsonResponse({"error": "a Bearer token is required (METRICS_TOKEN)"}, status=401)
            response["WWW-Authenticate"] = "Bearer"
            return response
    return ExportToDjangoView(request)


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        return False


def _broker_ok() -> bool:
    try:
        with Connection(
            settings.CELERY_BROKER_URL, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS, connect_timeout=2
        ) as broker:
            broker.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
            _ = broker.default_channel  # the filesystem transport only fails here when its folder is unusable
        return True
    except Exception:
        return False


# Probes call outside services: one report serves every caller for this long, so that polling the
# endpoint cannot turn into a stream of calls to the gateways.
HEALTH_CACHE_SECONDS = 30
HEALTH_CACHE_KEY = "ops:api-health"
SERVICE_PROBES = {"openai": openai_probe, "salvy": salvy_probe, "slack": slack_probe}


@require_GET
def api_health(request: HttpRequest) -> JsonResponse:
    """Each integration: configured, and answering (see integrations/health.py and chips/gateway_health.py).

    Always 200 (readiness is /readyz's question); `status` is "degraded" when a configured service or an
    active gateway does not answer as it should.
    """
    report = cache.get(HEALTH_CACHE_KEY)
    if report is None:
        report = integrations_report()
        cache.set(HEALTH_CACHE_KEY, report, HEALTH_CACHE_SECONDS)
    return JsonResponse(report)


def integrations_report() -> dict:
    targets = gateway_targets()  # the database is read here, in the request's thread
    with ThreadPoolExecutor(max_workers=8) as pool:
        services = {name: pool.submit(probe) for name, probe in SERVICE_PROBES.items()}
        gateways = {target.name: (target.kind, pool.submit(gateway_probe, target)) for target in targets}
        service_results = {name: future.result() for name, future in services.items()}
        gateway_results = {name: (kind, future.result()) for name, (kind, future) in gateways.items()}
    failing = [probe for probe in service_results.values() if probe.failing]
    failing += [probe for _kind, probe in gateway_results.values() if probe.failing]
    return {
        "status": "degraded" if failing else "ok",
        "checked_at": timezone.now().isoformat(),
        "services": {name: probe.as_dict() for name, probe in service_results.items()},
        "gateways": {name: {"kind": kind, **probe.as_dict()} for name, (kind, probe) in gateway_results.items()},
    }
