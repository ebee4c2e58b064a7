import pytest
from django.db import OperationalError

pytestmark = pytest.mark.django_db


def test_healthz_answers_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ready_when_database_and_broker_are_up(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "broker": "ok"}


def test_readyz_is_503_when_the_broker_is_down(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 1}
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == "down"


def test_readyz_is_503_when_the_database_is_down(client, monkeypatch):
    from django.db import connection

    def refuse():
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", refuse)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "down"


def test_metrics_expose_prometheus_text_with_webhook_counters(client):
    client.post("/webhooks/evolution/", data=b"{broken", content_type="application/json")
    response = client.get("/metrics")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'recado_webhook_requests_total{endpoint="evolution",status="400"}' in body
    assert "django_http_requests_total" in body or "python_info" in body


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", "Basic bWV0cmljcy10b2tlbg==", "Bearer"])
def test_with_a_metrics_token_metrics_need_it(client, settings, authorization):
    settings.METRICS_TOKEN = "metrics-token-0123456789"
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}

    response = client.get("/metrics", **headers)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert b"python_info" not in response.content and b"recado_" not in response.content


def test_with_a_metrics_token_the_scraper_sending_it_gets_the_metrics(client, settings):
    settings.METRICS_TOKEN = "metrics-token-0123456789"

    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer metrics-token-0123456789")

    assert response.status_code == 200
    assert b"python_info" in response.content or b"django_http_requests_total" in response.content
