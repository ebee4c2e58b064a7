"""The LLM circuit breaker: opens on consecutive failures, skips the server, half-opens, closes."""

import uuid
from dataclasses import replace

import pytest
from django.core.cache import cache

from agent import breaker as breaker_module
from agent.brain import decide
from agent.breaker import (
    BreakerState,
    CircuitBreaker,
    DjangoCacheBreakerStore,
    MemoryBreakerStore,
    RedisBreakerStore,
)
from agent.decision import HANDOFF

from .conftest import llm_config
from .fake_openai import chat_completion
from .profiles import turn

REAL_STORE_FACTORY = breaker_module._store  # before the autouse fixture swaps in a memory store


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def breaker(clock):
    return CircuitBreaker(MemoryBreakerStore(clock=clock), name="test", failure_threshold=3, cooldown_seconds=60)


@pytest.fixture(autouse=True)
def _no_retries(settings):
    settings.AGENT_MAX_RETRIES = 0


def failing_turns(fake_llm, breaker, count):
    return [decide(turn("Oi"), llm=llm_config(fake_llm.base_url), breaker=breaker) for _ in range(count)]


def test_breaker_opens_after_consecutive_failures_and_reports_it_once(fake_llm, breaker):
    fake_llm.status = 500

    decisions = failing_turns(fake_llm, breaker, 3)

    assert [d.run.breaker_just_opened for d in decisions] == [False, False, True]
    assert all(d.run.fallback_used and not d.run.breaker_open for d in decisions)
    assert "breaker_opened" in decisions[-1].run.flags
    assert "LLM circuit breaker opened" in decisions[-1].run.error
    assert breaker.state() is BreakerState.OPEN
    assert len(fake_llm.requests) == 3


def test_open_breaker_uses_the_playbook_without_calling_the_server(fake_llm, breaker):
    fake_llm.status = 500
    failing_turns(fake_llm, breaker, 3)
    fake_llm.requests.clear()
    fake_llm.status = 200

    decision = decide(turn("Oi", push_name="Maria"), llm=llm_config(fake_llm.base_url), breaker=breaker)

    assert fake_llm.requests == []
    assert decision.run.breaker_open is True
    assert decision.run.fallback_used is True
    assert decision.run.breaker_just_opened is False
    assert decision.run.model == "playbook"
    assert decision.bubbles  # the playbook still qualifies


def test_after_the_cooldown_one_trial_goes_through_and_success_closes(fake_llm, breaker, clock):
    fake_llm.status = 500
    failing_turns(fake_llm, breaker, 3)
    clock.now += 61
    fake_llm.status = 200
    fake_llm.requests.clear()

    assert breaker.state() is BreakerState.HALF_OPEN
    decision = decide(turn("Oi"), llm=llm_config(fake_llm.base_url), breaker=breaker)

    assert decision.run.fallback_used is False
    assert decision.run.breaker_open is False
    assert len(fake_llm.requests) == 1
    assert breaker.state() is BreakerState.CLOSED
    # Closed means the count starts over: two new failures do not open it.
    fake_llm.status = 500
    assert not any(d.run.breaker_just_opened for d in failing_turns(fake_llm, breaker, 2))
    assert breaker.state() is BreakerState.CLOSED


def test_half_open_lets_exactly_one_trial_through(breaker, clock):
    for _ in range(3):
        breaker.record_failure(breaker.admit())
    clock.now += 61

    first, second = breaker.admit(), breaker.admit()

    assert (first.allowed, first.trial) == (True, True)
    assert (second.allowed, second.state) == (False, BreakerState.HALF_OPEN)


def test_a_failed_trial_opens_the_breaker_again_without_a_new_alert(fake_llm, breaker, clock):
    fake_llm.status = 500
    failing_turns(fake_llm, breaker, 3)
    clock.now += 61

    (trial,) = failing_turns(fake_llm, breaker, 1)

    assert trial.run.breaker_just_opened is False
    assert breaker.state() is BreakerState.OPEN
    clock.now += 61
    assert breaker.admit().trial is True  # and after another cool-down, another trial


def test_a_success_resets_the_consecutive_count(breaker):
    breaker.record_failure(breaker.admit())
    breaker.record_failure(breaker.admit())
    breaker.record_success(breaker.admit())
    breaker.record_failure(breaker.admit())
    opened = breaker.record_failure(breaker.admit())

    assert opened is False
    assert breaker.state() is BreakerState.CLOSED


def test_an_unusable_answer_is_not_an_outage(fake_llm, breaker):
    fake_llm.content = "   "

    decisions = failing_turns(fake_llm, breaker, 4)

    assert all(d.run.fallback_used for d in decisions)
    assert breaker.state() is BreakerState.CLOSED


def test_open_breaker_hands_off_a_customer_asking_for_a_person(fake_llm, breaker):
    fake_llm.status = 500
    failing_turns(fake_llm, breaker, 3)

    decision = decide(
        turn("quero falar com um atendente, por favor"), llm=llm_config(fake_llm.base_url), breaker=breaker
    )

    assert decision.run.breaker_open is True
    assert HANDOFF in decision.actions
    assert "pessoa" in decision.bubbles[-1]
    assert len(decision.bubbles) <= 3


def test_open_breaker_outside_business_hours_says_when_a_person_answers(fake_llm, breaker):
    fake_llm.status = 500
    failing_turns(fake_llm, breaker, 3)
    context = replace(turn("preciso falar com uma pessoa"), business_open=False, next_opening="amanhã às 08:00")

    decision = decide(context, llm=llm_config(fake_llm.base_url), breaker=breaker)

    assert HANDOFF in decision.actions
    assert any("amanhã às 08:00" in bubble for bubble in decision.bubbles)
    assert len(decision.bubbles) <= 3


def test_breaker_state_is_shared_through_its_store(clock):
    store = MemoryBreakerStore(clock=clock)
    worker_a = CircuitBreaker(store, name="shared", failure_threshold=2)
    worker_b = CircuitBreaker(store, name="shared", failure_threshold=2)

    worker_a.record_failure(worker_a.admit())
    opened = worker_b.record_failure(worker_b.admit())

    assert opened is True
    assert worker_a.admit().allowed is False


def test_a_broken_store_lets_the_llm_through():
    class BrokenStore(MemoryBreakerStore):
        def get(self, key):
            raise ConnectionError("redis down")

        def incr(self, key, ttl_seconds):
            raise ConnectionError("redis down")

    broken = CircuitBreaker(BrokenStore(), failure_threshold=1)

    assert broken.admit().allowed is True
    assert broken.record_failure(broken.admit()) is False


def test_breaker_settings_are_read_by_the_factory(settings):
    settings.AGENT_BREAKER_FAILURES = 7
    settings.AGENT_BREAKER_COOLDOWN_SECONDS = 15

    made = breaker_module.breaker_for("http://llm.local/v1")

    assert (made.failure_threshold, made.cooldown_seconds) == (7, 15)
    assert breaker_module.breaker_key("http://llm.local/v1") != breaker_module.breaker_key("http://other/v1")


def test_factory_chooses_redis_when_configured_else_the_django_cache(settings):
    settings.REDIS_URL = ""
    assert isinstance(REAL_STORE_FACTORY(settings), DjangoCacheBreakerStore)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # not contacted until used
    assert isinstance(REAL_STORE_FACTORY(settings), RedisBreakerStore)


def exercise_store(store):
    prefix = f"test-breaker-{uuid.uuid4().hex}"
    shared = CircuitBreaker(store, name=prefix, failure_threshold=2, cooldown_seconds=60)
    try:
        assert store.incr(f"agent:llm-breaker:{prefix}:probe", 30) == 1
        assert store.incr(f"agent:llm-breaker:{prefix}:probe", 30) == 2
        assert store.add(f"agent:llm-breaker:{prefix}:claim", "1", 30) is True
        assert store.add(f"agent:llm-breaker:{prefix}:claim", "1", 30) is False
        shared.record_failure(shared.admit())
        assert shared.record_failure(shared.admit()) is True
        assert shared.state() is BreakerState.OPEN
        assert shared.admit().allowed is False
    finally:
        store.delete(*(f"agent:llm-breaker:{prefix}:{key}" for key in ("probe", "claim", "failures", "open", "trial")))


@pytest.mark.django_db
def test_django_cache_store_drives_the_breaker():
    exercise_store(DjangoCacheBreakerStore(cache))


@pytest.mark.redis
def test_redis_store_drives_the_breaker(settings):
    exercise_store(RedisBreakerStore.from_url(settings.REDIS_URL))


def test_a_closed_breaker_skips_store_writes_on_success(fake_llm):
    class CountingStore(MemoryBreakerStore):
        writes = 0

        def delete(self, *keys):
            CountingStore.writes += 1
            super().delete(*keys)

    counting = CircuitBreaker(CountingStore(), failure_threshold=3)
    fake_llm.script = [chat_completion("Oi!")]

    decide(turn("Oi"), llm=llm_config(fake_llm.base_url), breaker=counting)

    assert CountingStore.writes == 0


def test_a_playbook_that_misses_a_request_for_a_person_is_corrected(fake_llm, breaker, monkeypatch):
    from agent import fallback
    from agent.decision import Decision

    monkeypatch.setattr(fallback, "run_playbook", lambda context: Decision(bubbles=["Qual é o seu nome?"], state={}))
    fake_llm.status = 500
    failing_turns(fake_llm, breaker, 3)
    context = replace(turn("quero falar com um atendente"), business_open=False, next_opening="amanhã às 08:00")

    decision = decide(context, llm=llm_config(fake_llm.base_url), breaker=breaker)

    assert decision.actions == [HANDOFF]
    assert decision.stage == "handed_off"
    assert decision.bubbles == ["Uma pessoa do nosso time vai continuar o atendimento com você amanhã às 08:00."]
