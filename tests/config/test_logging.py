import io
import json
import logging
import time
from pathlib import Path

from config.logging import RedactUrlSecrets, redact_url_secrets

ROOT = Path(__file__).resolve().parents[2]


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


def test_access_log_lines_are_masked():
    """The web server's access log (granian, set up by config/granian_logging.json) masks URL secrets."""
    from django.utils.module_loading import import_string
    from granian.log import access_logger, log_request_builder

    config = json.loads((ROOT / "config" / "granian_logging.json").read_text())
    (filter_name,) = config["handlers"]["access"]["filters"]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(import_string(config["filters"][filter_name]["()"])())
    # As granian sets it up in the server (other tests may have reconfigured logging since).
    saved = access_logger.disabled, access_logger.level, access_logger.propagate
    access_logger.disabled, access_logger.propagate = False, False
    access_logger.setLevel(logging.INFO)
    access_logger.addHandler(handler)
    try:
        log_request = log_request_builder('"%(method)s %(path)s" %(status)d')
        request = {"addr_remote": "127.0.0.1", "path": "/webhooks/zapi/s3cr3t/", "qs": "", "method": "POST"}
        log_request(time.time(), time.perf_counter(), {**request, "scheme": "http", "protocol": "HTTP/1.1"}, 202)
    finally:
        access_logger.removeHandler(handler)
        access_logger.disabled, access_logger.propagate = saved[0], saved[2]
        access_logger.setLevel(saved[1])
    assert stream.getvalue() == '"POST /webhooks/zapi/***/" 202\n'
