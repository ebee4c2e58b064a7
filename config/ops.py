"""Liveness and readiness endpoints for load balancers and orchestrators."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET
from kombu import Connection


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
