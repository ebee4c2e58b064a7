"""A tiny OpenAI-compatible Chat Completions server for tests, on a random local port."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REPLY_CONTENT = "Olá!\n\nQual é o seu nome?"


def chat_completion(content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 8, "total_tokens": 58},
    }


@dataclass
class FakeOpenAI:
    """What the server answers, and every request body it received."""

    status: int = 200
    content: str = REPLY_CONTENT
    delay_seconds: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    base_url: str = ""


def start(fake: FakeOpenAI) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            fake.paths.append(self.path)
            fake.requests.append(json.loads(body))
            if fake.delay_seconds:
                time.sleep(fake.delay_seconds)
            if self.path != "/v1/chat/completions":
                self._send(404, {"error": {"message": "not found"}})
            elif fake.status != 200:
                self._send(fake.status, {"error": {"message": "boom", "type": "server_error"}})
            else:
                self._send(200, chat_completion(fake.content))

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            # Keeps the SDK's single retry fast in tests.
            self.send_header("retry-after-ms", "10")
            self.end_headers()
            # The client may have given up already (timeout test).
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    # A short poll interval keeps shutdown (test teardown) quick.
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server
