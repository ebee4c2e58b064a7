"""Fake external services on loopback: real HTTP servers speaking the providers' wire formats."""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict
    body: dict | None


@dataclass
class FakeEvolution:
    """An Evolution API v2 server: sendText answers 201 with a fresh key id, sendPresence 201."""

    api_key: str = "global-api-key"
    requests: list[Recorded] = field(default_factory=list)
    fail_with: int | None = None  # answer every sendText with this status instead
    lock: threading.Lock = field(default_factory=threading.Lock)

    def texts(self) -> list[Recorded]:
        return [r for r in self.requests if "/message/sendText/" in r.path]

    def presences(self) -> list[Recorded]:
        return [r for r in self.requests if "/chat/sendPresence/" in r.path]

    def wait_for_texts(self, count: int, timeout: float = 20.0) -> list[Recorded]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.texts()) >= count:
                return self.texts()
            time.sleep(0.05)
        return self.texts()

    def handle(self, method: str, path: str, headers: dict, body: dict | None) -> tuple[int, dict]:
        with self.lock:
            self.requests.append(Recorded(method, path, headers, body))
        if headers.get("apikey") != self.api_key:
            return 401, {"status": 401, "error": "Unauthorized", "response": {"message": "Unauthorized"}}
        if "/message/sendText/" in path:
            if self.fail_with:
                return self.fail_with, {
                    "status": self.fail_with,
                    "error": "Bad Request",
                    "response": {"message": [{"exists": False, "number": body.get("number")}]},
                }
            return 201, {
                "key": {
                    "remoteJid": f"{body['number']}@s.whatsapp.net",
                    "fromMe": True,
                    "id": "BAE5" + uuid.uuid4().hex[:12].upper(),
                },
                "message": {"conversation": body["text"]},
                "messageTimestamp": str(int(time.time())),
                "status": "PENDING",
            }
        if "/chat/sendPresence/" in path:
            return 201, {"presence": body.get("presence")}
        return 404, {"status": 404, "error": "Not Found", "response": {"message": ["Cannot POST " + path]}}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeEvolution

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        status, answer = self.fake.handle("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):  # keep test output quiet
        pass


def serve(fake) -> tuple[ThreadingHTTPServer, str]:
    handler = type("Handler", (_Handler,), {"fake": fake})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
