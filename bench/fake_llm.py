"""An OpenAI-compatible Chat Completions server for the benchmark: answers after a model's latency.

Production runs the agent on a model; a turn then spends most of its time waiting for the answer,
not computing. This server gives every request the same short reply after `latency_ms`, so the
worker behaves as it does in production. Counts requests for the report.
"""

from __future__ import annotations

import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from json_http import send_json  # beside this script: run as bench/<name>.py

REPLY = "Olá! Aqui é a assistente virtual. Para começar, qual é o seu nome?"
answered = 0
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    latency = 1.0

    def do_POST(self):
        global answered
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        time.sleep(self.latency)
        with lock:
            answered += 1
        self._send(
            {
                "id": f"chatcmpl-bench-{answered}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": "bench-model",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": REPLY}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 900, "completion_tokens": 20, "total_tokens": 920},
            }
        )

    def do_GET(self):
        self._send({"answered": answered})

    def _send(self, payload):
        send_json(self, 200, payload)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    Handler.latency = int(sys.argv[2]) / 1000
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    server.serve_forever()
