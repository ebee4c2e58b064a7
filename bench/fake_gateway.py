"""A fast fake Evolution API for the benchmark: answers sendText/sendPresence and counts texts."""

from __future__ import annotations

import json
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from json_http import send_json  # beside this script: run as bench/<name>.py

texts: dict[str, int] = {}
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        if "/message/sendText/" in self.path:
            with lock:
                texts[body["number"]] = texts.get(body["number"], 0) + 1
            answer = {"key": {"id": "BAE5" + uuid.uuid4().hex[:12].upper(), "fromMe": True}, "status": "PENDING"}
        else:
            answer = {"presence": "composing"}
        self._send(201, answer)

    def do_GET(self):
        with lock:
            self._send(200, {"numbers": len(texts), "texts": sum(texts.values()), "per_number": texts})

    def _send(self, status, payload):
        send_json(self, status, payload)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
