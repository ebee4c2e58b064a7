"""Nothing lost, nothing answered twice — when the broker is down, or a worker dies mid-turn."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from conversations.models import AgentRun, Message
from conversations.relay import relay_once
from conversations.sweeper import sweep
from tests.e2e.conftest import wait_until
from tests.e2e.test_webhook_to_reply import assert_one_turn_reached_the_gateway
from tests.factories import ChipFactory
from tests.payloads import evolution_text

ROOT = Path(__file__).resolve().parents[2]
URL = "/webhooks/evolution/"


def post_message(client, chip, message_id):
    body = evolution_text(instance=chip.instance_name, message_id=message_id, text="Olá, quero um orçamento")
    return client.post(
        URL, data=json.dumps(body), content_type="application/json", HTTP_X_WEBHOOK_TOKEN=chip.gateway.webhook_secret
    )


def point_broker_at(url: str) -> None:
    """Make the Celery app publish to `url` from now on (closing pooled connections to the old one)."""
    from kombu import pools

    from config.celery import app

    app.conf.broker_url = url
    pools.reset()  # kombu keeps connection pools per broker URL, process-wide
    app._pool = None
    app.amqp._producer_pool = None


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_broker_down_during_the_webhook_loses_nothing(client, fake_evolution, request):
    chip = ChipFactory(instance_name="down-01", gateway__base_url=fake_evolution.url)
    point_broker_at("redis://127.0.0.1:1/0")  # nothing listens there
    request.addfinalizer(lambda: point_broker_at(settings.CELERY_BROKER_URL))

    response = post_message(client, chip, "BROKERDOWN1")
    assert response.status_code == 202  # the request never needed the broker

    with pytest.raises(Exception):  # noqa: B017 - whatever the transport raises, the row must survive
        relay_once()
    message = Message.objects.get(provider_message_id="BROKERDOWN1")
    assert (message.status, message.handed_at) == ("received", None)

    point_broker_at(settings.CELERY_BROKER_URL)  # the broker is back
    request.getfixturevalue("pipeline")
    assert_one_turn_reached_the_gateway(fake_evolution)


class BlockingLLM:
    """An OpenAI-compatible server whose first completion hangs (the worker dies during it)."""

    def __init__(self):
        self.calls = 0
        self.first_call = threading.Event()
        self.release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fake.calls += 1
                if fake.calls == 1:
                    fake.first_call.set()
                    fake.release.wait(60)
                body = json.dumps(
                    {
                        "id": "chatcmpl-1",
                        "object": "chat.completion",
                        "created": 1,
                        "model": "m",
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": "Olá! Qual é o seu nome?"},
                            }
                        ],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                    }
                ).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the worker that asked is dead

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self):
        self.release.set()
        self.server.shutdown()


def start_worker_process(llm_url: str) -> subprocess.Popen:
    """A real `celery worker` process on the test database and the configured broker."""
    env = dict(os.environ)
    env.update(
        OPENAI_API_KEY="sk-test",
        OPENAI_BASE_URL=llm_url,
        AGENT_MODEL="test-model",
        AGENT_TIMEOUT_SECONDS="60",
        TURN_LEASE_SECONDS="2",
        RECADO_ENV_FILE="",
        DATABASE_CONN_MAX_AGE="0",
        # Like the test process (tests/conftest.py): no pacing between sends.
        CHIP_SEND_INTERVAL_SECONDS="0",
        CHIP_SEND_JITTER_SECONDS="0",
    )
    database = connection.settings_dict
    if connection.vendor == "postgresql":
        env["DATABASE_URL"] = (
            f"postgres://{database['USER']}:{database.get('PASSWORD') or ''}@{database['HOST'] or '127.0.0.1'}:"
            f"{database['PORT'] or 5432}/{database['NAME']}"
        )
    else:
        env.pop("DATABASE_URL", None)
        env["SQLITE_PATH"] = str(database["NAME"])
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            "threads",
            "--concurrency",
            "2",
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_turn_loses_nothing_and_answers_once(client, fake_evolution, settings, request):
    from config.celery import app

    app.control.purge()
    llm = BlockingLLM()
    request.addfinalizer(llm.close)
    settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL, settings.AGENT_MODEL = "sk-test", llm.url, "test-model"
    chip = ChipFactory(instance_name="kill-01", gateway__base_url=fake_evolution.url)
    worker = start_worker_process(llm.url)
    request.addfinalizer(lambda: worker.poll() is None and os.killpg(worker.pid, signal.SIGKILL))

    assert post_message(client, chip, "KILLED1").status_code == 202
    assert relay_once() == 1
    assert llm.first_call.wait(60), "the worker never started the turn"

    os.killpg(worker.pid, signal.SIGKILL)  # dies in the middle of the agent's call
    worker.wait(10)
    message = Message.objects.get(provider_message_id="KILLED1")
    assert message.status == "received" and AgentRun.objects.count() == 0 and fake_evolution.texts() == []

    # The safety net: the sweeper re-hands what is unanswered, the lease of the dead turn expires,
    # and a healthy worker answers — once.
    settings.INBOUND_REHAND_SECONDS = 0
    settings.TURN_LEASE_SECONDS = 2
    time.sleep(0.1)
    assert sweep().rehanded == 1
    request.getfixturevalue("pipeline")
    assert wait_until(lambda: AgentRun.objects.exists(), timeout=60)
    assert_one_turn_reached_the_gateway(fake_evolution)
    assert [t.body["text"] for t in fake_evolution.texts()] == ["Olá! Qual é o seu nome?"]
