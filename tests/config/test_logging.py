import logging

from config.logging import RedactUrlSecrets, redact_url_secrets


def test_url_secrets_are_masked():
    assert redact_url_secrets("Unauthorized: /webhooks/zapi/s3cr3t-value/") == "Unauthorized: /webhooks/zapi/***/"
    assert (
        redact_url_secrets('HTTP Request: POST https://api.z-api.io/instances/ABC/token/T0K3N/send-text "HTTP/1.1 200"')
        == 'HTTP Request: POST https://api.z-api.io/instances/***/token/***/send-text "HTTP/1.1 200"'
    )
    assert redact_url_secrets("POST /webhooks/evolution/ 202") == "POST /webhooks/evolution/ 202"


def test_filter_rewrites_formatted_records():
    record = logging.LogRecord(
        "django.request", logging.WARNING, __file__, 1, "Not Found: %s", ("/webhooks/zapi/abc/",), None
    )
    assert RedactUrlSecrets().filter(record) is True
    assert record.getMessage() == "Not Found: /webhooks/zapi/***/"


def test_gunicorn_access_log_lines_are_masked():
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.config import Config

    from config.gunicorn import RedactingLogger

    environ = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": "/webhooks/zapi/s3cr3t/",
        "PATH_INFO": "/webhooks/zapi/s3cr3t/",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
    }
    atoms = RedactingLogger(Config()).atoms(
        SimpleNamespace(status="202 Accepted", sent=10, headers=[]),
        SimpleNamespace(headers=[]),
        environ,
        timedelta(milliseconds=3),
    )
    assert atoms["r"] == "POST /webhooks/zapi/***/ HTTP/1.1"
    assert "s3cr3t" not in atoms["U"]


def test_a_slack_webhook_url_is_masked():
    line = 'HTTP Request: POST https://hooks.slack.com/services/T000/B000/XXXXSECRET "HTTP/1.1 200 OK"'
    assert redact_url_secrets(line) == 'HTTP Request: POST https://hooks.slack.com/services/*** "HTTP/1.1 200 OK"'
