"""`make bench`: Recado's webhook ingest, measured the way production runs it.

Starts granian (2 WSGI workers, as the Procfile), the relay and a Celery worker on PostgreSQL and Redis, then drives
the server over loopback with wrk (32 connections): a bare Django JSON view as the reference,
signed Evolution webhooks with unique ids, then the same ids again (all duplicates). Prints
requests/s and p50/p99 latency per phase, how fast messages were handed to the workers, and —
after the run — messages lost and replies doubled. Figures, not assertions.

The agent answers through a model, as in production: a local OpenAI-compatible server replies after
BENCH_LLM_MS (default 1000) milliseconds, so a turn waits as it would on a real model.
BENCH_AGENT=playbook runs the offline playbook instead: every turn is then pure CPU on the same
two cores as the web server (the worst case for ingest).

Environment: BENCH_DATABASE_URL (default: the server of DATABASE_URL, or postgres@127.0.0.1,
database `recado_bench`, recreated), BENCH_REDIS_URL (default redis://127.0.0.1:6379/15, flushed),
BENCH_SECONDS (default 10), BENCH_CONNECTIONS (default 32), BENCH_PORT (default 8765);
BENCH_SYNCHRONOUS_COMMIT=off shows how much of the time is the per-commit WAL flush (comparison only).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
PORT = int(os.environ.get("BENCH_PORT", "8765"))
GATEWAY_PORT = PORT + 1
LLM_PORT = PORT + 2
AGENT = os.environ.get("BENCH_AGENT", "llm")
LLM_MS = int(os.environ.get("BENCH_LLM_MS", "1000"))
TOKEN = "bench-webhook-token-0123456789abcdefghij"


def main() -> int:
    if AGENT not in ("llm", "playbook"):
        sys.exit("BENCH_AGENT must be llm or playbook")
    _ports_free(PORT, GATEWAY_PORT, LLM_PORT)
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk); `make bench` installs it")
    database_url = _database_url()
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
    env = _environment(database_url, redis_url)
    _prepare_database(database_url)
    _flush_redis(redis_url)
    _manage(env, "migrate", "--no-input", "-v0")
    _manage(
        env,
        "add_gateway",
        "--kind",
        "evolution",
        "--name",
        "bench",
        "--base-url",
        f"http://127.0.0.1:{GATEWAY_PORT}",
        "--api-key",
        "bench-key",
        "--webhook-secret",
        TOKEN,
    )
    _manage(env, "register_chip", "--gateway", "bench", "--instance", "bench-01", "--phone", "+5511999990001")

    with ExitStack() as stack:
        start = _starter(stack, env)
        start("gateway", [PYTHON, str(HERE / "fake_gateway.py"), str(GATEWAY_PORT)])
        if AGENT == "llm":
            start("llm", [PYTHON, str(HERE / "fake_llm.py"), str(LLM_PORT), str(LLM_MS)])
        web = start(
            "web",
            [
                str(Path(PYTHON).parent / "granian"),
                "config.wsgi:application",
                "--interface",
                "wsgi",
                "--host",
                "127.0.0.1",
                "--port",
                str(PORT),
                "--workers",
                "2",
                "--blocking-threads",
                "16",
                "--backpressure",
                "32",
                "--no-ws",
            ],
        )
        relay = start("relay", [PYTHON, "manage.py", "run_relay"])
        worker = start(
            "worker",
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool",
                "threads",
                "--concurrency",
                "8",
                "--without-mingle",
                "--without-gossip",
                "--loglevel",
                "WARNING",
            ],
        )
        _wait_for(f"http://127.0.0.1:{PORT}/healthz")

        _wrk(reference=True, seconds=2)  # warm-up: imports, connections, caches
        groups = {"web": web, "relay": relay, "worker": worker}
        reference = _measured(groups, _wrk, reference=True, seconds=SECONDS)
        unique = _measured(groups, _wrk, prefix="U", seconds=SECONDS)
        handoff = _handoff_latency(env)
        duplicates = _measured(groups, _wrk, prefix="U", seconds=SECONDS, duplicates=True)
        drained = _drain(env, timeout=float(os.environ.get("BENCH_DRAIN_SECONDS", "120")))
        # Counted at rest: a text the gateway has received but whose row is not yet marked sent
        # would otherwise look doubled. A warm shutdown lets in-flight sends finish.
        _stop(relay)
        _stop(worker)
        outcome = _outcome(env, unique)

    _report(reference, unique, duplicates, handoff, drained, outcome)
    return 0


# --- set-up ---------------------------------------------------------------------------------------


def _database_url() -> str:
    if os.environ.get("BENCH_DATABASE_URL"):
        return os.environ["BENCH_DATABASE_URL"]
    base = urlparse(os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres")
    return base._replace(path="/recado_bench").geturl()


def _environment(database_url: str, redis_url: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OPENAI_", "AGENT_"))}
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DJANGO_SECRET_KEY="bench-secret-key-not-for-production",
        FIELD_ENCRYPTION_KEY="YmVuY2gtb25seS1maWVsZC1lbmNyeXB0aW9uLWtleSE=",
        DJANGO_DEBUG="0",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        RECADO_ENV_FILE="",
        LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        PROMETHEUS_MULTIPROC_DIR=str(ROOT / "var" / "bench-prometheus"),
        TYPING_MIN_MS="0",
        TYPING_MAX_MS="0",
        # One chip answers every simulated customer: paced, its replies would queue seconds apart.
        CHIP_SEND_INTERVAL_SECONDS="0",
        CHIP_SEND_JITTER_SECONDS="0",
    )
    if AGENT == "llm":
        env.update(
            OPENAI_API_KEY="bench-key", OPENAI_BASE_URL=f"http://127.0.0.1:{LLM_PORT}/v1", AGENT_MODEL="bench-model"
        )
    shutil.rmtree(env["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
    Path(env["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True)
    return env


def _prepare_database(database_url: str) -> None:
    import psycopg

    target = urlparse(database_url)
    name = target.path.lstrip("/")
    admin = target._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
        # For comparison only: how much of the ingest time is waiting for the WAL flush of each commit.
        # (Never for production: an acknowledged webhook could be lost if PostgreSQL crashed.)
        if os.environ.get("BENCH_SYNCHRONOUS_COMMIT", "on") != "on":
            connection.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')


def _flush_redis(redis_url: str) -> None:
    import redis

    redis.Redis.from_url(redis_url).flushdb()


def _manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"manage.py {args[0]} failed:\n{result.stderr}")
    return result.stdout


def _starter(stack: ExitStack, env: dict[str, str]):
    logs = ROOT / "var" / "bench-logs"
    logs.mkdir(parents=True, exist_ok=True)

    def start(name: str, command: list[str]) -> subprocess.Popen:
        log = open(logs / f"{name}.log", "w")  # noqa: SIM115 - closed by the stack
        stack.callback(log.close)
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        stack.callback(_stop, process)
        return process

    return start


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _ports_free(*ports: int) -> None:
    """Refuse to start beside another server: the web server shares a port it finds taken (SO_REUSEPORT)."""
    for port in ports:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                sys.exit(f"port {port} is already in use: stop what listens there, or set BENCH_PORT")


def _wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback
                return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"server did not answer {url} within {timeout}s (see var/bench-logs/)")


# --- load -------------------------------------------------------------------------------------------


def _wrk(*, seconds: int, reference: bool = False, prefix: str = "", duplicates: bool = False) -> dict:
    script = HERE / ("reference.lua" if reference else "webhook.lua")
    url = f"http://127.0.0.1:{PORT}/healthz" if reference else f"http://127.0.0.1:{PORT}/"
    env = dict(
        os.environ,
        BENCH_PREFIX=prefix,
        BENCH_TOKEN=TOKEN,
        BENCH_INSTANCE="bench-01",
        BENCH_DUPLICATES="1" if duplicates else "0",
    )
    result = subprocess.run(
        ["wrk", "-t", "2", "-c", str(CONNECTIONS), "-d", f"{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    figures: dict = {"statuses": {}}
    for line in result.stdout.splitlines():
        parts = line.split()
        if parts and parts[0] == "STATUS":
            figures["statuses"][int(parts[1])] = int(parts[2])
        elif len(parts) == 2 and parts[0].isupper() and parts[1].isdigit():
            figures[parts[0]] = int(parts[1])
    figures["rps"] = figures["REQUESTS"] / (figures["DURATION_US"] / 1e6)
    return figures


# --- where the CPU went ------------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _measured(groups: dict[str, subprocess.Popen], run, **options) -> dict:
    """Run one load phase and add the CPU seconds each part of the system used during it."""
    before, wrk_before = _cpu_by_group(groups), _children_cpu()
    figures = run(**options)
    after, wrk_after = _cpu_by_group(groups), _children_cpu()
    figures["cpu"] = {name: after[name] - before[name] for name in after}
    figures["cpu"]["wrk"] = wrk_after - wrk_before  # wrk has ended by now: counted as our reaped child
    return figures


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cpu_by_group(groups: dict[str, subprocess.Popen]) -> dict[str, float]:
    """CPU seconds (user + system) so far of our processes (with their children), PostgreSQL and Redis."""
    parents: dict[int, int] = {}
    seconds: dict[int, float] = {}
    names: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # the process ended while we looked
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        seconds[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        names[pid] = name
    roots = {process.pid: group for group, process in groups.items()}
    totals: dict[str, float] = dict.fromkeys([*groups, "postgresql", "redis"], 0.0)
    for pid, used in seconds.items():
        group = _group_of(pid, roots, parents)
        if group is None:
            group = {"postgres": "postgresql", "redis-server": "redis"}.get(names[pid])
        if group is not None:
            totals[group] += used
    return totals


def _group_of(pid: int, roots: dict[int, str], parents: dict[int, int]) -> str | None:
    while pid > 1:
        if pid in roots:
            return roots[pid]
        pid = parents.get(pid, 0)
    return None


# --- after the run -----------------------------------------------------------------------------------


def _sql(env: dict[str, str], query: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(env["DATABASE_URL"]) as connection:
        return connection.execute(query).fetchall()


def _handoff_latency(env: dict[str, str]) -> dict:
    """How long messages waited between being stored and being handed to a worker."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        [(waiting,)] = _sql(
            env, "SELECT count(*) FROM conversations_message WHERE direction = 'in' AND handed_at IS NULL"
        )
        if waiting == 0:
            break
        time.sleep(0.5)
    rows = _sql(
        env,
        "SELECT EXTRACT(EPOCH FROM handed_at - created_at) FROM conversations_message "
        "WHERE direction = 'in' AND handed_at IS NOT NULL",
    )
    delays = sorted(float(delay) for (delay,) in rows)
    if not delays:
        return {"count": 0}
    return {
        "count": len(delays),
        "not_handed": waiting,
        "p50": statistics.median(delays),
        "p99": delays[int(len(delays) * 0.99) - 1] if len(delays) >= 100 else delays[-1],
        "max": delays[-1],
        "within_1s": sum(delay <= 1.0 for delay in delays) / len(delays),
    }


def _drain(env: dict[str, str], timeout: float) -> dict:
    """Let the worker answer the backlog (the agent is the offline playbook: no LLM cost)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        [(left,)] = _sql(
            env, "SELECT count(*) FROM conversations_message WHERE direction = 'in' AND processed_at IS NULL"
        )
        if left == 0:
            break
        time.sleep(1)
    return {"left": left, "seconds": time.monotonic() - started}


def _outcome(env: dict[str, str], unique: dict) -> dict:
    accepted = unique["statuses"].get(202, 0)
    [(stored,)] = _sql(env, "SELECT count(*) FROM conversations_message WHERE direction = 'in'")
    [(doubled_runs,)] = _sql(
        env,
        "SELECT count(*) FROM (SELECT conversation_id FROM conversations_agentrun "
        "GROUP BY conversation_id HAVING count(*) > 1) AS doubled",
    )
    [(answered,)] = _sql(env, "SELECT count(DISTINCT conversation_id) FROM conversations_agentrun")
    with urllib.request.urlopen(f"http://127.0.0.1:{GATEWAY_PORT}/", timeout=5) as response:
        gateway = json.load(response)
    bubbles = _sql(
        env,
        # Every bubble that may have reached the gateway (sent or later, or sent with an unknown outcome).
        "SELECT count(*) FROM conversations_message WHERE direction = 'out' AND origin = 'agent' "
        "AND status NOT IN ('pending', 'failed')",
    )[0][0]
    return {
        "accepted": accepted,
        "stored": stored,
        "lost": max(0, accepted - stored),
        "answered_conversations": answered,
        "doubled_turns": doubled_runs,
        "texts_at_gateway": gateway["texts"],
        "bubbles_sent": bubbles,
        "doubled_replies": max(0, gateway["texts"] - bubbles),
    }


def _report(reference, unique, duplicates, handoff, drained, outcome) -> None:
    def row(name, figures):
        statuses = ", ".join(f"{code}: {count}" for code, count in sorted(figures["statuses"].items()))
        print(
            f"{name:<22} {figures['rps']:>9.0f} {figures['LATENCY_P50_US'] / 1000:>9.2f} "
            f"{figures['LATENCY_P99_US'] / 1000:>9.2f}   {statuses}"
        )

    print(
        f"\nRecado ingest benchmark — {os.cpu_count()} cores, {CONNECTIONS} connections, {SECONDS}s per phase, "
        "granian 2 WSGI workers, relay + worker running, PostgreSQL + Redis"
    )
    agent = f"a model answering in {LLM_MS} ms (local fake)" if AGENT == "llm" else "the offline playbook (CPU only)"
    print(f"agent: {agent}")
    print(f"{'phase':<22} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9}   answers")
    row("bare Django view", reference)
    row("unique webhooks", unique)
    row("duplicate webhooks", duplicates)
    print("\nCPU seconds per 1,000 requests (2 cores = 2 s of CPU per second of wall time):")
    for name, figures in (("bare Django view", reference), ("unique webhooks", unique), ("duplicates", duplicates)):
        per_thousand = 1000 / max(figures["REQUESTS"], 1)
        parts = ", ".join(f"{part} {used * per_thousand:.2f}" for part, used in figures["cpu"].items())
        print(f"  {name:<20} {parts}")
    if handoff.get("count"):
        print(
            f"\nhanded to a worker: p50 {handoff['p50'] * 1000:.0f} ms, p99 {handoff['p99'] * 1000:.0f} ms, "
            f"max {handoff['max'] * 1000:.0f} ms, {handoff['within_1s']:.1%} within 1 s "
            f"({handoff['not_handed']} not handed after 30 s)"
        )
    print(
        f"answered by the worker: {outcome['answered_conversations']} conversations; "
        f"{drained['left']} messages still waiting after {drained['seconds']:.0f} s of draining"
    )
    print(f"messages lost: {outcome['lost']} (accepted {outcome['accepted']}, stored {outcome['stored']})")
    print(
        f"replies doubled: {outcome['doubled_turns']} conversations with two turns, "
        f"{outcome['doubled_replies']} texts at the gateway beyond the bubbles sent"
    )


if __name__ == "__main__":
    sys.exit(main())
