"""PostgreSQL, with the per-request health check only for connections that sat idle.

Django's `CONN_HEALTH_CHECKS` pings (`SELECT 1`) a persistent connection at the first query of
every request: a round trip and a statement on the server for each webhook, to learn what the
previous request, a moment ago, already proved. A connection last used less than
`HEALTH_CHECK_IDLE_SECONDS` ago is trusted instead. If the server went away in that moment, the
query fails, the request answers 503 (the gateway retries) and Django drops the broken connection
at the end of that request, as it does for any error.
"""

from __future__ import annotations

import time

from django.db.backends.postgresql import base

HEALTH_CHECK_IDLE_SECONDS = 1.0


class DatabaseWrapper(base.DatabaseWrapper):
    last_released = float("-inf")

    def close_if_health_check_failed(self):
        if not self.health_check_done and time.monotonic() - self.last_released < HEALTH_CHECK_IDLE_SECONDS:
            self.health_check_done = True
        super().close_if_health_check_failed()

    def close_if_unusable_or_obsolete(self):
        # Called when a request (or a task) ends. `health_check_done` says whether it ran a query.
        used = self.health_check_done
        super().close_if_unusable_or_obsolete()
        if used and self.connection is not None:
            self.last_released = time.monotonic()
