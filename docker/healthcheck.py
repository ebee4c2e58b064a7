"""Cheap container health checks; they never load Django, so they cost a fraction of a second.

    python docker/healthcheck.py http http://127.0.0.1:8000/readyz
    python docker/healthcheck.py broker database

`http` expects a 200 from the URL (the web's /readyz checks database and broker itself).
`broker` and `database` check that REDIS_URL and DATABASE_URL answer: what worker, beat and relay
need to make progress. Exit status 0 means healthy.
"""

from __future__ import annotations

import os
import sys
import urllib.request

TIMEOUT_SECONDS = 3


def _host_header() -> str:
    # Django answers 400 to a Host outside ALLOWED_HOSTS: send the first concrete allowed host.
    for host in os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(","):
        host = host.strip().lstrip(".")
        if host and "*" not in host:
            return host
    return ""


def check_http(url: str) -> None:
    host = _host_header()
    request = urllib.request.Request(url, headers={"Host": host} if host else {})  # noqa: S310 (fixed URL)
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
        if response.status != 200:
            raise RuntimeError(f"{url} answered {response.status}")


def check_broker() -> None:
    from kombu import Connection

    with Connection(os.environ["REDIS_URL"], connect_timeout=TIMEOUT_SECONDS) as broker:
        broker.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=TIMEOUT_SECONDS)


def check_database() -> None:
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"], connect_timeout=TIMEOUT_SECONDS) as conn:
        conn.execute("SELECT 1")


def main(argv: list[str]) -> int:
    checks = []
    args = iter(argv)
    for name in args:
        if name == "http":
            url = next(args, None)
            if not url:
                print("usage: healthcheck.py http URL", file=sys.stderr)
                return 2
            checks.append((name, lambda url=url: check_http(url)))
        elif name == "broker":
            checks.append((name, check_broker))
        elif name == "database":
            checks.append((name, check_database))
        else:
            print(f"unknown check {name!r} (http URL, broker, database)", file=sys.stderr)
            return 2
    if not checks:
        print("usage: healthcheck.py http URL | broker | database ...", file=sys.stderr)
        return 2
    for name, check in checks:
        try:
            check()
        except Exception as exc:
            print(f"{name}: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
