"""Fixtures for the agent's LLM path: a fake OpenAI-compatible server and an isolated breaker."""

from __future__ import annotations

import pytest

from agent import breaker as breaker_module
from agent.breaker import MemoryBreakerStore
from agent.context import LLMConfig

from . import fake_openai


@pytest.fixture(autouse=True)
def _llm_isolation(monkeypatch):
    # Proxies or OPENAI_* variables on the machine must not redirect the fake server's traffic.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID"):
        monkeypatch.delenv(name, raising=False)
    # Each test starts with a closed breaker of its own; the shared stores have their own tests.
    store = MemoryBreakerStore()
    monkeypatch.setattr(breaker_module, "_store", lambda settings: store)


@pytest.fixture
def fake_llm():
    fake = fake_openai.FakeOpenAI()
    http_server = fake_openai.start(fake)
    yield fake
    http_server.shutdown()
    http_server.server_close()


def llm_config(base_url: str, *, timeout: float = 5.0, model: str = "gpt-4o-mini") -> LLMConfig:
    return LLMConfig(model=model, api_key="sk-test", base_url=base_url, timeout_seconds=timeout)
