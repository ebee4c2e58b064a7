"""A circuit breaker around the LLM server whose state every worker shares.

After `failure_threshold` consecutive failures the breaker opens: for `cooldown_seconds` no turn
calls the server (they use the offline playbook). Then it is half-open: exactly one turn, the
trial, calls the server; success closes the breaker, failure opens it for another cool-down.

The state lives in a small key-value store (Redis, or Django's cache on the embedded default), so
a server that is down is detected once for the whole fleet of workers, not once per process.
Three keys per breaker:

    <prefix>:failures   consecutive failures (expires after a quiet while, so old ones are forgotten)
    <prefix>:open       present while the breaker is open (its TTL is the cool-down)
    <prefix>:trial      claimed by the one turn allowed through while half-open

A store that fails (Redis unreachable) never stops the agent: the breaker then lets calls through
and logs, because the LLM's own timeouts still bound each turn.

This module imports no Django model; `breaker_for` reads settings lazily.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

logger = logging.getLogger(__name__)

DEFAULT_FAILURE_THRESHOLD = 5
DEFAULT_COOLDOWN_SECONDS = 60
KEY_PREFIX = "agent:llm-breaker"
# Failures older than this many cool-downs no longer count towards opening the breaker.
FAILURE_MEMORY_COOLDOWNS = 10
MIN_FAILURE_MEMORY_SECONDS = 600


class BreakerStore(Protocol):
    """The few atomic operations the breaker needs; values are small strings or integers."""

    def get(self, key: str) -> str | None: ...

    def incr(self, key: str, ttl_seconds: int) -> int:
        """Add one to `key` (created at 0), keep it for `ttl_seconds`, return the new value."""
        ...

    def set(self, key: str, value: str, ttl_seconds: int) -> None: ...

    def add(self, key: str, value: str, ttl_seconds: int) -> bool:
        """Set `key` only if it is absent; True when this call set it (a claim only one caller wins)."""
        ...

    def delete(self, *keys: str) -> None: ...


class RedisBreakerStore:
    """The store over a `redis.Redis` client (settings.REDIS_URL)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    @classmethod
    def from_url(cls, url: str) -> RedisBreakerStore:
        import redis

        # Short timeouts: the breaker is consulted on every turn and must never be the slow part.
        return cls(redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1, decode_responses=True))

    def get(self, key: str) -> str | None:
        value = self.client.get(key)
        return None if value is None else str(value)

    def incr(self, key: str, ttl_seconds: int) -> int:
        pipeline = self.client.pipeline()
        pipeline.incr(key)
        pipeline.expire(key, ttl_seconds)
        count, _ = pipeline.execute()
        return int(count)

    def set(self, key: str, value: str, ttl_seconds: int) -> None:
        self.client.set(key, value, ex=ttl_seconds)

    def add(self, key: str, value: str, ttl_seconds: int) -> bool:
        return bool(self.client.set(key, value, ex=ttl_seconds, nx=True))

    def delete(self, *keys: str) -> None:
        if keys:
            self.client.delete(*keys)


class DjangoCacheBreakerStore:
    """The store over a Django cache (the database cache on the embedded default).

    The database cache's `incr` is a read then a write, so two workers failing at the same instant
    may count one failure; the breaker then opens one failure later, which is harmless.
    """

    def __init__(self, cache: Any) -> None:
        self.cache = cache

    def get(self, key: str) -> str | None:
        value = self.cache.get(key)
        return None if value is None else str(value)

    def incr(self, key: str, ttl_seconds: int) -> int:
        self.cache.add(key, 0, ttl_seconds)
        try:
            count = self.cache.incr(key)
        except ValueError:  # expired between add and incr
            self.cache.set(key, 1, ttl_seconds)
            return 1
        self.cache.touch(key, ttl_seconds)
        return int(count)

    def set(self, key: str, value: str, ttl_seconds: int) -> None:
        self.cache.set(key, value, ttl_seconds)

    def add(self, key: str, value: str, ttl_seconds: int) -> bool:
        return bool(self.cache.add(key, value, ttl_seconds))

    def delete(self, *keys: str) -> None:
        self.cache.delete_many(list(keys))


class MemoryBreakerStore:
    """A per-process store: for scripts without Django settings and for tests. Not shared."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._values: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def _live(self, key: str) -> str | None:
        entry = self._values.get(key)
        if entry is None:
            return None
        value, expires_at = entry
        if self._clock() >= expires_at:
            del self._values[key]
            return None
        return value

    def get(self, key: str) -> str | None:
        with self._lock:
            return self._live(key)

    def incr(self, key: str, ttl_seconds: int) -> int:
        with self._lock:
            count = int(self._live(key) or 0) + 1
            self._values[key] = (str(count), self._clock() + ttl_seconds)
            return count

    def set(self, key: str, value: str, ttl_seconds: int) -> None:
        with self._lock:
            self._values[key] = (value, self._clock() + ttl_seconds)

    def add(self, key: str, value: str, ttl_seconds: int) -> bool:
        with self._lock:
            if self._live(key) is not None:
                return False
            self._values[key] = (value, self._clock() + ttl_seconds)
            return True

    def delete(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._values.pop(key, None)


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class Admission:
    """Whether this turn may call the server, and what the breaker looked like when asked."""

    allowed: bool
    state: BreakerState
    trial: bool = False  # this turn is the half-open trial
    failures: int = 0


class CircuitBreaker:
    def __init__(
        self,
        store: BreakerStore,
        *,
        name: str = "default",
        failure_threshold: int = DEFAULT_FAILURE_THRESHOLD,
        cooldown_seconds: int = DEFAULT_COOLDOWN_SECONDS,
    ) -> None:
        self.store = store
        self.failure_threshold = max(1, int(failure_threshold))
        self.cooldown_seconds = max(1, int(cooldown_seconds))
        prefix = f"{KEY_PREFIX}:{name}"
        self._failures_key = f"{prefix}:failures"
        self._open_key = f"{prefix}:open"
        self._trial_key = f"{prefix}:trial"

    @property
    def _failure_memory_seconds(self) -> int:
        return max(MIN_FAILURE_MEMORY_SECONDS, self.cooldown_seconds * FAILURE_MEMORY_COOLDOWNS)

    def state(self) -> BreakerState:
        """The current state, without claiming anything (for health pages and tests)."""
        try:
            if self.store.get(self._open_key) is not None:
                return BreakerState.OPEN
            failures = int(self.store.get(self._failures_key) or 0)
        except Exception:
            logger.warning("agent breaker store unavailable", exc_info=True)
            return BreakerState.CLOSED
        return BreakerState.HALF_OPEN if failures >= self.failure_threshold else BreakerState.CLOSED

    def admit(self) -> Admission:
        """Ask to call the server now. While half-open only the caller that claims the trial may."""
        try:
            if self.store.get(self._open_key) is not None:
                return Admission(allowed=False, state=BreakerState.OPEN)
            failures = int(self.store.get(self._failures_key) or 0)
            if failures < self.failure_threshold:
                return Admission(allowed=True, state=BreakerState.CLOSED, failures=failures)
            # The trial claim expires after a cool-down, so a trial whose worker died is retried.
            claimed = self.store.add(self._trial_key, "1", self.cooldown_seconds)
        except Exception:
            logger.warning("agent breaker store unavailable; calling the LLM anyway", exc_info=True)
            return Admission(allowed=True, state=BreakerState.CLOSED)
        return Admission(allowed=claimed, state=BreakerState.HALF_OPEN, trial=claimed, failures=failures)

    def record_success(self, admission: Admission) -> None:
        """The server answered: a half-open breaker closes, the consecutive failure count resets."""
        if not (admission.trial or admission.failures):
            return  # nothing to reset: skip the store round trip on the common path
        try:
            self.store.delete(self._failures_key, self._open_key, self._trial_key)
        except Exception:
            logger.warning("agent breaker store unavailable", exc_info=True)

    def record_failure(self, admission: Admission) -> bool:
        """The server failed. Returns True when this failure opened a closed breaker (alert once)."""
        try:
            failures = self.store.incr(self._failures_key, self._failure_memory_seconds)
            if admission.trial:
                # The trial failed: open again for another cool-down; not a new outage to alert on.
                self.store.set(self._open_key, "1", self.cooldown_seconds)
                self.store.delete(self._trial_key)
                return False
            if failures == self.failure_threshold:
                # `incr` is atomic, so exactly one worker sees the threshold and reports the opening.
                self.store.set(self._open_key, "1", self.cooldown_seconds)
                logger.warning("agent LLM breaker opened after %s consecutive failures", failures)
                return True
        except Exception:
            logger.warning("agent breaker store unavailable", exc_info=True)
        return False


def breaker_key(base_url: str) -> str:
    """One breaker per LLM server: every profile talking to the same server shares its health."""
    return hashlib.sha256((base_url or "default").encode()).hexdigest()[:16]


_stores: dict[str, BreakerStore] = {}
_stores_lock = threading.Lock()


def breaker_for(base_url: str) -> CircuitBreaker:
    """The breaker of the server at `base_url`, configured from settings, over the shared store."""
    settings = _settings()
    return CircuitBreaker(
        _store(settings),
        name=breaker_key(base_url),
        failure_threshold=int(getattr(settings, "AGENT_BREAKER_FAILURES", DEFAULT_FAILURE_THRESHOLD)),
        cooldown_seconds=int(getattr(settings, "AGENT_BREAKER_COOLDOWN_SECONDS", DEFAULT_COOLDOWN_SECONDS)),
    )


def _store(settings: Any) -> BreakerStore:
    """Redis when REDIS_URL is set, else Django's default cache, else (no Django) process memory."""
    redis_url = getattr(settings, "REDIS_URL", "") if settings is not None else ""
    kind = f"redis:{redis_url}" if redis_url else ("django-cache" if settings is not None else "memory")
    with _stores_lock:
        store = _stores.get(kind)
        if store is None:
            if redis_url:
                store = RedisBreakerStore.from_url(redis_url)
            elif settings is not None:
                from django.core.cache import cache

                store = DjangoCacheBreakerStore(cache)
            else:
                store = MemoryBreakerStore()
            _stores[kind] = store
        return store


def _settings() -> Any:
    from django.conf import settings

    return settings if settings.configured else None
