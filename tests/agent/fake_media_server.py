"""A small OpenAI-compatible server for media understanding tests, on a random loopback port.

It serves the two endpoints media understanding calls: `/v1/audio/transcriptions` (multipart
upload) and `/v1/chat/completions` (a vision request), records every request as it arrived, and
answers with `transcript` / `description`, or with the next status queued in `statuses`.
The SDK (3.x) speaks httpx2, which respx cannot intercept: a real socket is the honest seam.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TRANSCRIPTIONS = "/v1/audio/transcriptions"
CHAT = "/v1/chat/completions"


@dataclass
class Upload:
    file_name: str
    content_type: str
    content: bytes


@dataclass
class Received:
    path: str
    content_type: str
    authorization: str = ""
    json: dict[str, Any] = field(default_factory=dict)  # chat requests
    fields: dict[str, str] = field(default_factory=dict)  # multipart form fields
    files: dict[str, Upload] = field(default_factory=dict)  # multipart files


@dataclass
class FakeMediaServer:
    transcript: str = "Meu nome é Ana Paula"
    description: str = "Conta de energia da Enel; total a pagar R$ 412,90; vencimento 10/08."
    # Statuses answered to the next requests, in order; 200 once the queue is empty.
    statuses: list[int] = field(default_factory=list)
    delay_seconds: float = 0.0
    requests: list[Received] = field(default_factory=list)
    base_url: str = ""

    def next_status(self) -> int:
        return self.statuses.pop(0) if self.statuses else 200


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, Upload]]:
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    fields: dict[str, str] = {}
    files: dict[str, Upload] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            files[name] = Upload(part.get_filename(), part.get_content_type(), payload)
        else:
            fields[name] = payload.decode()
    return fields, files


def start(fake: FakeMediaServer) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            content_type = self.headers.get("Content-Type", "")
            received = Received(
                path=self.path, content_type=content_type, authorization=self.headers.get("Authorization", "")
            )
            if content_type.startswith("multipart/form-data"):
                received.fields, received.files = parse_multipart(content_type, body)
            else:
                received.json = json.loads(body)
            fake.requests.append(received)
            if fake.delay_seconds:
                time.sleep(fake.delay_seconds)
            status = fake.next_status()
            if self.path not in (TRANSCRIPTIONS, CHAT):
                self._send(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
            elif status != 200:
                self._send(status, {"error": {"message": "refused", "type": "error", "code": str(status)}})
            elif self.path == TRANSCRIPTIONS:
                self._send(200, {"text": fake.transcript})
            else:
                self._send(200, chat_completion(received.json.get("model", ""), fake.description))

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client timed out already
                self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def chat_completion(model: str, content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-media-1",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 900, "completion_tokens": 30, "total_tokens": 930},
    }
