"""Shared test setup.

Tests marked `postgres` or `redis` need those services. Without them they are skipped — unless
REQUIRE_SERVICES=1 (CI), where a missing service is a failure, not a skip.
"""

from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.db import connection

from tests.wsgi import WsgiClient

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def _require(available: bool, what: str) -> None:
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is required (REQUIRE_SERVICES=1) but not configured or reachable")
    pytest.skip(f"needs {what}")


@pytest.fixture(autouse=True)
def _service_requirements(request):
    if request.node.get_closest_marker("postgres"):
        _require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    if request.node.get_closest_marker("redis"):
        _require(bool(settings.REDIS_URL) and _redis_reachable(), "Redis (REDIS_URL)")


def _redis_reachable() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(autouse=True)
def _fresh_routes(settings):
    # Tests create chips with the same names over and over: no routing answer may outlive a test,
    # and within a test a chip registered between two deliveries must be seen at once.
    from chips.selectors import forget_routes
    from conversations.ingest_sql import forget_recently_stored

    settings.WEBHOOK_ROUTE_CACHE_SECONDS = 0
    forget_routes()
    forget_recently_stored()  # ids committed by one test are rolled back or flushed before the next
    yield
    forget_routes()
    forget_recently_stored()


@pytest.fixture(autouse=True)
def _live_salvy_lists(settings):
    # Each test serves its own fake Salvy stock: no list may be reused from an earlier test.
    settings.SALVY_AREA_CODES_CACHE_SECONDS = 0


@pytest.fixture(autouse=True)
def _fast_typing(settings):
    # Typing presence holds the send for its duration at the gateway; tests need not wait.
    settings.TYPING_MIN_MS = 0
    settings.TYPING_MAX_MS = 5


@pytest.fixture(autouse=True)
def _answer_at_once(monkeypatch):
    # The default profile waits a couple of seconds for a burst to end. Tests answer at once unless
    # they are about bursts: those set `debounce_seconds` on their profile themselves.
    from conversations.defaults import DEFAULT_PROFILE

    monkeypatch.setitem(DEFAULT_PROFILE, "debounce_seconds", 0)


@pytest.fixture(autouse=True)
def _no_pacing(settings):
    # Pacing spaces one chip's sends by seconds and quiet hours hold proactive sends for the night:
    # tests send many messages in a row, at any hour. Tests of pacing set their own values.
    settings.CHIP_SEND_INTERVAL_SECONDS = 0
    settings.CHIP_SEND_JITTER_SECONDS = 0
    settings.CHIP_QUIET_HOURS = ""


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Drop the test database cleanly even if a worker or server thread kept a connection open."""
    from conversations.models import AgentProfile

    with django_db_blocker.unblock():
        # The migration-made default profile, as `_answer_at_once` makes new ones.
        AgentProfile.objects.filter(is_default=True).update(debounce_seconds=0)
    yield
    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )


@pytest.fixture
def wsgi_client(monkeypatch):
    """Requests through the production WSGI entry point, inside the test's transaction.

    As Django's test client detaches `close_old_connections` from the request signals, the webhook
    handler's own calls are switched off here: they would close the connection holding the test's
    transaction (tests of that upkeep itself are in tests/config/test_wsgi_and_db_backend.py).
    """
    from config import wsgi

    monkeypatch.setattr(wsgi, "close_old_connections", lambda: None)
    return WsgiClient()
