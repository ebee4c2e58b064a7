"""A tiny OpenAI-compatible Chat Completions server for tests, on a random local port.

The OpenAI SDK 3.x talks through httpx2, which respx cannot intercept, so tests run this real HTTP
server on loopback. By default it answers every request with `status` / `content`. A `script`
overrides that, one entry per request, in order:

- a chat.completion object (anything with "choices") is answered with 200;
- `{"status": 429, "error": {...}}` is answered with that status and error body;
- `{"stall_seconds": 2}` holds the request that long before answering (the client times out).

The same entries make up the recorded model responses of the golden conversations.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REPLY_CONTENT = "Olá!\n\nQual é o seu nome?"
DEFAULT_USAGE = (50, 8)
_call_ids = itertools.count(1)


def chat_completion(
    content: str | None = None,
    *,
    tool_calls: list[dict[str, Any]] | None = None,
    usage: tuple[int, int] = DEFAULT_USAGE,
    model: str = "m",
) -> dict[str, Any]:
    """A chat.completion body as OpenAI sends it; `tool_calls` as made by `tool_call`."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    prompt_tokens, completion_tokens = usage
    return {
        "id": f"chatcmpl-{next(_call_ids)}",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if tool_calls else "stop"}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def tool_call(name: str, arguments: dict[str, Any] | str = "", *, call_id: str = "") -> dict[str, Any]:
    """One function tool call; `arguments` as a dict (sent as JSON) or a raw string (e.g. broken JSON)."""
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    return {
        "id": call_id or f"call_{next(_call_ids)}",
        "type": "function",
        "function": {"name": name, "arguments": raw},
    }


def error_status(status: int, message: str = "boom") -> dict[str, Any]:
    kind = "rate_limit_exceeded" if status == 429 else "server_error"
    return {"status": status, "error": {"message": message, "type": kind, "code": kind}}


def stall(seconds: float) -> dict[str, Any]:
    return {"stall_seconds": seconds}


@dataclass
class FakeOpenAI:
    """What the server answers, and every request body it received."""

    status: int = 200
    content: str = REPLY_CONTENT
    delay_seconds: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    base_url: str = ""
    script: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def next_entry(self) -> dict[str, Any] | None:
        with self._lock:
            return self.script.pop(0) if self.script else None


def start(fake: FakeOpenAI) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            fake.paths.append(self.path)
            fake.requests.append(json.loads(body))
            if self.path != "/v1/chat/completions":
                self._send(404, {"error": {"message": "not found"}})
                return
            entry = fake.next_entry()
            if entry is None:
                self._answer_default()
            elif "stall_seconds" in entry:
                time.sleep(entry["stall_seconds"])
                self._send(200, chat_completion("(too late)"))
            elif "choices" in entry:
                self._send(200, entry)
            else:
                self._send(entry["status"], {"error": entry.get("error", {"message": "boom"})})

        def _answer_default(self) -> None:
            if fake.delay_seconds:
                time.sleep(fake.delay_seconds)
            if fake.status != 200:
                self._send(fake.status, {"error": {"message": "boom", "type": "server_error"}})
            else:
                self._send(200, chat_completion(fake.content))

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            # Keeps the SDK's retries fast in tests.
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
