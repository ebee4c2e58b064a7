"""A real pipeline beside the test: a Celery worker (threads) on the configured broker and the relay.

On CI the broker is Redis; on the embedded default it is the filesystem transport.
"""

from __future__ import annotations

import threading
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.db import connection

from tests.conftest import REQUIRE_SERVICES
from tests.fakes import FakeEvolution, serve


@pytest.fixture
def fake_evolution():
    fake = FakeEvolution()
    server, url = serve(fake)
    fake.url = url
    yield fake
    server.shutdown()


@pytest.fixture
def pipeline(transactional_db):
    from config.celery import app
    from conversations.relay import relay_forever

    if REQUIRE_SERVICES and not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.fail("REQUIRE_SERVICES=1: the end-to-end pipeline must run on Redis")
    app.control.purge()  # tasks left by earlier runs must not leak into this test
    stop = threading.Event()

    def run_relay():
        try:
            relay_forever(stop=stop, poll_seconds=0.02)
        finally:
            connection.close()

    with start_worker(app, pool="threads", concurrency=4, perform_ping_check=False, loglevel="WARNING"):
        relay = threading.Thread(target=run_relay, daemon=True)
        relay.start()
        yield
        stop.set()
        relay.join(timeout=10)


def wait_until(condition, *, timeout: float = 30.0, interval: float = 0.05):
    """Poll until `condition()` is truthy; returns its last value (the test asserts on it)."""
    deadline = time.monotonic() + timeout
    value = condition()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = condition()
    return value
