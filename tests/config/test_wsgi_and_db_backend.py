"""The WSGI entry point (a lean stack for webhooks) and the PostgreSQL backend's idle-only health check."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.core.signals import got_request_exception
from django.db import DEFAULT_DB_ALIAS, close_old_connections, connections
from django.http import JsonResponse
from django.urls import resolve

from config import wsgi
from conversations.models import Message
from integrations.urls import unknown_webhook, webhook_route, webhook_urls
from tests.factories import ChipFactory
from tests.payloads import evolution_headers, evolution_text, load_fixture
from tests.wsgi import wsgi_call


def default():
    """The main thread's own wrapper of the default database (not the proxy `django.db.connection`)."""
    return connections[DEFAULT_DB_ALIAS]


def call(app, method: str, path: str, body: bytes = b"", **environ) -> tuple[int, dict[str, str], list, bytes]:
    """One request straight through a WSGI callable, as granian makes it."""
    answer = wsgi_call(app, method, path, body, **environ)
    return answer.status_code, answer.headers, answer.raw_headers, answer.content


# --- the WSGI application -------------------------------------------------------------------------


def test_webhook_path_goes_through_the_lean_stack():
    status, headers, _raw, content = call(wsgi.application, "POST", "/webhooks/evolution/", b"{not json")

    assert status == 400
    assert json.loads(content)["error"]
    assert "x-frame-options" not in headers  # XFrameOptionsMiddleware is not on this path
    assert headers["x-content-type-options"] == "nosniff"  # SecurityMiddleware is


def test_other_paths_go_through_the_full_stack():
    status, headers, _raw, content = call(wsgi.application, "GET", "/healthz")

    assert status == 200
    assert json.loads(content) == {"status": "ok"}
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"


def test_admin_login_still_gets_sessions_and_csrf():
    status, _headers, raw, _content = call(wsgi.application, "GET", "/admin/login/")

    assert status == 200
    cookies = [value.strip() for name, value in raw if name.lower() == "set-cookie"]
    assert any(cookie.startswith(f"{settings.CSRF_COOKIE_NAME}=") for cookie in cookies)


def test_webhook_requests_carry_no_session_or_user_and_site_requests_do(monkeypatch):
    seen = []

    def receive(request, **kwargs):
        seen.append(request)
        return JsonResponse({"ok": True})

    monkeypatch.setattr("integrations.webhooks.receive", receive)

    assert call(wsgi.application, "POST", "/webhooks/evolution/", b"{}")[0] == 200
    assert call(wsgi.site, "POST", "/webhooks/evolution/", b"{}")[0] == 200

    lean, full = seen
    assert not hasattr(lean, "session") and not hasattr(lean, "user")
    assert hasattr(full, "session") and hasattr(full, "user")


@pytest.mark.parametrize(
    "pattern",
    [pattern for pattern in webhook_urls() if pattern.callback is not unknown_webhook],
    ids=lambda pattern: str(pattern.pattern),
)
def test_webhook_route_finds_what_the_urlconf_finds(pattern):
    path = "/" + str(pattern.pattern).replace("<str:secret>", "s3cr3t-Value_1").replace(
        "<slug:event>", "messages-upsert"
    )
    match = resolve(path)

    assert webhook_route(path) == (match.func, match.kwargs)


@pytest.mark.parametrize(
    "path",
    [
        "/webhooks/nope/",  # no such gateway
        "/webhooks/evolution/extra/more/",  # one event segment at most
        "/webhooks/evolution/messages.upsert/",  # an event segment is a slug
        "/webhooks/waha/messages-upsert/",  # WAHA posts every event to one URL
        "/webhooks/zapi/",  # this one needs its secret
        "/webhooks/zapi/a/b/",
        "/webhooks/zapi/a/b",
        "/webhooks/evolution//",
        "/webhooks/",
        "/webhooks/zapi//",
        "/healthz",
    ],
)
def test_webhook_route_refuses_what_the_urlconf_refuses(path):
    assert webhook_route(path) is None
    if path.startswith("/webhooks/"):
        assert resolve(path).func is unknown_webhook


@pytest.mark.parametrize("path", ["/webhooks/nope/", "/webhooks/evolution/a/b", "/webhooks/"])
def test_a_path_below_webhooks_that_is_no_webhook_gets_a_json_404_naming_the_endpoints(path):
    status, headers, _raw, content = call(wsgi.application, "POST", path, b"{}")

    assert status == 404
    assert headers["content-type"] == "application/json"
    error = json.loads(content)["error"]
    assert error.startswith(f"no webhook endpoint at {path};")
    assert "/webhooks/evolution/" in error and "/webhooks/zapi/" in error


def test_an_unexpected_error_in_a_webhook_answers_500_and_is_logged(monkeypatch, caplog):
    def receive(request, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("integrations.webhooks.receive", receive)
    failures = []

    def failed(sender, request, **kwargs):
        failures.append(request.path)

    got_request_exception.connect(failed, dispatch_uid="test-webhook-500")
    try:
        with caplog.at_level(logging.ERROR, logger="django.request"):
            status, _headers, _raw, _content = call(wsgi.application, "POST", "/webhooks/evolution/", b"{}")
    finally:
        got_request_exception.disconnect(dispatch_uid="test-webhook-500")

    assert status == 500
    assert failures == ["/webhooks/evolution/"]
    assert any("/webhooks/evolution/" in record.getMessage() for record in caplog.records)


def test_database_connections_are_looked_after_before_and_after_each_webhook(monkeypatch):
    calls = []
    monkeypatch.setattr(wsgi, "close_old_connections", lambda: calls.append(len(calls)))
    monkeypatch.setattr("integrations.webhooks.receive", lambda request, **kwargs: JsonResponse({"ok": True}))

    call(wsgi.application, "POST", "/webhooks/evolution/", b"{}")

    assert calls == [0, 1]  # at the start, and when the server closes the answer


def test_the_site_keeps_its_own_middleware():
    # CSRF (a view middleware) and Prometheus (an exception middleware) are on the site only.
    assert wsgi.webhooks._view_middleware == [] and wsgi.webhooks._exception_middleware == []
    assert any("CsrfViewMiddleware" in repr(method) for method in wsgi.site._view_middleware)
    assert any("PrometheusAfterMiddleware" in repr(method) for method in wsgi.site._exception_middleware)


@pytest.mark.django_db(transaction=True)
def test_the_cloud_api_handshake_goes_through_the_webhook_handler():
    status, _headers, _raw, content = call(
        wsgi.application, "GET", "/webhooks/cloudapi/", QUERY_STRING="hub.mode=subscribe&hub.verify_token=x"
    )

    assert status == 403
    assert "verification token" in json.loads(content)["error"]


@pytest.mark.django_db(transaction=True)
def test_signed_webhook_is_stored_through_the_wsgi_application():
    chip = ChipFactory(instance_name="acme-wsgi")
    body = json.dumps(evolution_text(instance="acme-wsgi", message_id="WSGI-1", text="Olá")).encode()
    headers = evolution_headers(chip.gateway.webhook_secret)

    status, response_headers, _raw, content = call(wsgi.application, "POST", "/webhooks/evolution/", body, **headers)

    assert status == 202, content
    assert json.loads(content)["messages"] == 1
    assert "x-frame-options" not in response_headers
    message = Message.objects.get()
    assert (message.chip_id, message.provider_message_id, message.text) == (chip.pk, "WSGI-1", "Olá")

    again = call(wsgi.application, "POST", "/webhooks/evolution/", body, **headers)
    assert again[0] == 200
    assert json.loads(again[3])["duplicates"] == 1
    assert Message.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "path", ["/webhooks/evolution", "/webhooks/zapi/{secret}", "/webhooks/evolution/messages-upsert"]
)
def test_a_webhook_url_typed_without_its_slash_is_served_not_redirected(path):
    # A redirect would reach the sender's client as a GET without the body: the delivery lost. The last
    # one is where Evolution posts with `webhook_by_events` on (its event in the path).
    if "zapi" in path:
        callback = load_fixture("zapi/ReceivedCallback__text.json")
        chip = ChipFactory(instance_name=callback["instanceId"], gateway__kind="zapi", instance_token="zapi-token")
        body = json.dumps(callback)
        headers = {}
    else:
        chip = ChipFactory(instance_name="acme-wsgi")
        body = json.dumps(evolution_text(instance="acme-wsgi", message_id="WSGI-SLASH", text="Olá"))
        headers = evolution_headers(chip.gateway.webhook_secret)

    status, _headers, _raw, content = call(
        wsgi.application, "POST", path.format(secret=chip.gateway.webhook_secret), body.encode(), **headers
    )

    assert status == 202, content
    assert Message.objects.get().chip_id == chip.pk


@pytest.mark.django_db(transaction=True)
def test_text_no_database_can_hold_is_refused_with_400_and_stores_nothing():
    chip = ChipFactory(instance_name="acme-wsgi")
    body = json.dumps(evolution_text(instance="acme-wsgi", message_id="WSGI-BAD", text="lone \udcff")).encode()

    status, _headers, _raw, content = call(
        wsgi.application, "POST", "/webhooks/evolution/", body, **evolution_headers(chip.gateway.webhook_secret)
    )

    assert status == 400, content
    assert "cannot be stored" in json.loads(content)["error"]
    assert not Message.objects.exists()


# --- settings -----------------------------------------------------------------------------------------


@pytest.mark.postgres
def test_postgresql_uses_the_project_backend_with_health_checks():
    from config.postgresql.base import DatabaseWrapper

    assert settings.DATABASES["default"]["ENGINE"] == "config.postgresql"
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True
    assert isinstance(default(), DatabaseWrapper)


# --- the health check -----------------------------------------------------------------------------------


class Clock:
    """Stands in for the backend module's `time`: only its own idea of now moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


def query() -> None:
    with default().cursor() as cursor:
        cursor.execute("SELECT 42")
        assert cursor.fetchone() == (42,)


def request(*, queries: int = 1) -> None:
    """What Django does around a request: close_old_connections at its start and at its end."""
    close_old_connections()
    for _ in range(queries):
        query()
    close_old_connections()


@pytest.fixture
def persistent(monkeypatch):
    """The default connection as production runs it (persistent, health checks on), with a controlled clock.

    It has just served a request at the clock's `now`; `pings` records each health check from then on.
    """
    from config.postgresql import base

    clock = Clock()
    monkeypatch.setattr(base, "time", SimpleNamespace(monotonic=clock.monotonic))
    default().ensure_connection()
    assert default().health_check_enabled is True
    # Tests run with DATABASE_CONN_MAX_AGE=0: a connection closed at each request end has no idle time.
    monkeypatch.setattr(default(), "close_at", None)
    pings = []
    is_usable = default().is_usable

    def counting_is_usable():
        pings.append(clock.now)
        return is_usable()

    monkeypatch.setattr(default(), "is_usable", counting_is_usable)
    request()
    assert default().last_released == clock.now
    pings.clear()  # whatever an earlier test left behind decided this first one
    return SimpleNamespace(clock=clock, pings=pings, idle=base.HEALTH_CHECK_IDLE_SECONDS)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_connection_used_a_moment_ago_is_not_pinged(persistent):
    persistent.clock.now += persistent.idle / 2
    request(queries=3)

    assert persistent.pings == []
    assert default().last_released == persistent.clock.now


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_connection_idle_for_longer_is_pinged_once_at_its_first_query(persistent):
    wire = default().connection

    persistent.clock.now += persistent.idle * 3
    request(queries=3)

    assert persistent.pings == [persistent.clock.now]
    assert default().connection is wire  # the ping succeeded: the same connection serves on
    assert default().last_released == persistent.clock.now


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_request_without_a_query_does_not_count_as_use(persistent):
    used_at = persistent.clock.now

    persistent.clock.now += persistent.idle * 0.6
    request(queries=0)
    assert persistent.pings == []
    assert default().last_released == used_at

    # Idle for longer than the limit since it was last used, though not since the empty request.
    persistent.clock.now += persistent.idle * 0.6
    request()
    assert persistent.pings == [persistent.clock.now]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_idle_connection_failing_its_ping_is_replaced(persistent, monkeypatch):
    wire = default().connection
    monkeypatch.setattr(default(), "is_usable", lambda: persistent.pings.append(persistent.clock.now) or False)

    persistent.clock.now += persistent.idle * 3
    close_old_connections()
    query()  # served by a new connection, not an error

    assert persistent.pings == [persistent.clock.now]
    assert default().connection is not None and default().connection is not wire
    assert wire.closed
    close_old_connections()
