"""Requests straight through the production WSGI entry point (config/wsgi.py), as granian makes them.

Django's test client goes through its own handler and the URLconf; webhooks in production go
through `config.wsgi.application` and its webhook handler. Tests that must hold for what
production runs use `WsgiClient` (the `wsgi_client` fixture).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

HOST = "testserver"  # added to ALLOWED_HOSTS by Django's test environment


@dataclass
class WsgiAnswer:
    status_code: int
    headers: dict[str, str]  # lower-cased names
    raw_headers: list[tuple[str, str]]
    content: bytes

    def json(self):
        return json.loads(self.content)


def wsgi_call(app, method: str, path: str, body: bytes = b"", **environ_extra) -> WsgiAnswer:
    """One request through a WSGI callable; `environ_extra` adds CGI keys (HTTP_*, QUERY_STRING...)."""
    path, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": query,
        "SERVER_NAME": HOST,
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": HOST,
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        **environ_extra,
    }
    answer = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"] = int(status.split(" ", 1)[0])
        answer["headers"] = response_headers

    result = app(environ, start_response)
    try:
        content = b"".join(result)
    finally:
        result.close()  # what the server does once the answer is sent
    names = {name.lower(): value for name, value in answer["headers"]}
    return WsgiAnswer(answer["status"], names, answer["headers"], content)


class WsgiClient:
    """`post` as Django's test client has it, through `config.wsgi.application`."""

    def post(self, path: str, data: bytes = b"", content_type: str = "application/json", **headers) -> WsgiAnswer:
        from config.wsgi import application

        return wsgi_call(application, "POST", path, data, CONTENT_TYPE=content_type, **headers)
