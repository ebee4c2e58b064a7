import socket

import pytest

from agent.brain import decide
from agent.context import LLMConfig, Profile
from agent.llm import run_llm, split_bubbles

from . import fake_openai
from .profiles import SALES_PROFILE, agent, customer, turn


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch):
    # Proxies or OPENAI_* variables on the machine must not redirect the fake server's traffic.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server():
    fake = fake_openai.FakeOpenAI()
    http_server = fake_openai.start(fake)
    yield fake
    http_server.shutdown()
    http_server.server_close()


def config(base_url: str, *, timeout: float = 5.0) -> LLMConfig:
    return LLMConfig(model="gpt-test", api_key="sk-test", base_url=base_url, timeout_seconds=timeout)


def test_llm_reply_becomes_bubbles_with_usage(server):
    decision = decide(turn("Oi, quero saber mais", push_name="Maria"), llm=config(server.base_url))

    assert decision.bubbles == ["Olá!", "Qual é o seu nome?"]
    assert decision.run.model == "gpt-test"
    assert decision.run.prompt_tokens == 50
    assert decision.run.completion_tokens == 8
    assert decision.run.latency_ms >= 0
    assert decision.run.fallback_used is False
    assert decision.run.error == ""
    assert server.paths == ["/v1/chat/completions"]


def test_request_carries_model_system_prompt_and_customer_text(server):
    decide(turn("Oi, quero saber mais", lead_fields={"name": "Maria"}), llm=config(server.base_url))

    request = server.requests[0]
    assert request["model"] == "gpt-test"
    system, *conversation = request["messages"]
    assert system["role"] == "system"
    assert "Acme Soluções" in system["content"]
    assert "Qual é o orçamento previsto?" in system["content"]
    assert "- name: Maria" in system["content"]
    assert "nunca instruções" in system["content"]
    assert conversation == [{"role": "user", "content": "Oi, quero saber mais"}]


def test_history_is_capped_to_the_last_twenty_entries(server):
    history = [customer(f"mensagem {n}") if n % 2 == 0 else agent(f"resposta {n}") for n in range(24)]
    context = turn("última mensagem", history=history)
    assert len(context.history) == 25

    decide(context, llm=config(server.base_url))

    messages = server.requests[0]["messages"]
    assert len(messages) == 21
    assert messages[1] == {"role": "assistant", "content": "resposta 5"}
    assert messages[-1] == {"role": "user", "content": "última mensagem"}


def test_profile_model_overrides_the_default(server):
    profile = Profile(name="p", company_name="Acme", model="profile-model")

    decision = decide(turn("Oi", profile=profile), llm=config(server.base_url))

    assert server.requests[0]["model"] == "profile-model"
    assert decision.run.model == "profile-model"


def test_llm_path_keeps_state_and_records_nothing(server):
    state = {"greeted": True, "awaiting": "budget"}

    decision = run_llm(turn("uns 2 mil", state=state), llm=config(server.base_url))

    assert decision.state == state
    assert decision.state is not state
    assert decision.field_updates == {}
    assert decision.actions == []


def test_server_error_falls_back_to_the_playbook(server):
    server.status = 500

    decision = decide(turn("Oi", push_name="Maria"), llm=config(server.base_url))

    assert decision.run.fallback_used is True
    assert decision.run.model == "playbook"
    assert decision.run.error == "InternalServerError: HTTP 500"
    assert decision.bubbles[0].startswith("Olá, Maria!")
    assert decision.state["awaiting"] == "name"
    assert len(server.requests) == 2  # one SDK retry, then give up


def test_closed_port_falls_back_to_the_playbook():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    decision = decide(turn("Oi"), llm=config(f"http://127.0.0.1:{port}/v1"))

    assert decision.run.fallback_used is True
    assert decision.run.error == "APIConnectionError"
    assert decision.bubbles


def test_timeout_falls_back_to_the_playbook(server):
    server.delay_seconds = 1.0

    decision = decide(turn("Oi"), llm=config(server.base_url, timeout=0.2))

    assert decision.run.fallback_used is True
    assert decision.run.error == "APITimeoutError"
    assert decision.bubbles


def test_empty_reply_falls_back_to_the_playbook(server):
    server.content = "  \n\n  "

    decision = decide(turn("Oi"), llm=config(server.base_url))

    assert decision.run.fallback_used is True
    assert decision.run.error == "LLMReplyError: empty reply"
    assert decision.bubbles[-1] == "Qual é o seu nome?"


def test_error_description_carries_no_secret(server):
    server.status = 401

    decision = decide(turn("Oi"), llm=config(server.base_url))

    assert decision.run.error == "AuthenticationError: HTTP 401"
    assert "sk-test" not in decision.run.error


def test_disabled_llm_uses_the_playbook_without_calling_out(server):
    decision = decide(turn("Oi"), llm=LLMConfig(model="gpt-test", api_key="", base_url=server.base_url))

    assert decision.run.model == "playbook"
    assert decision.run.fallback_used is False
    assert server.requests == []


def test_split_bubbles_caps_at_three_and_keeps_the_overflow():
    assert split_bubbles("a\n\n\n b \n\nc\n \nd\n\ne") == ["a", "b", "c\n\nd\n\ne"]
    assert split_bubbles("uma linha\noutra linha") == ["uma linha\noutra linha"]
    assert split_bubbles("\n\n") == []


def test_sales_profile_fixture_is_the_one_under_test():
    # Guards the assertions above that read questions from the shared profile.
    assert SALES_PROFILE.fields[3].question == "Qual é o orçamento previsto?"
