"""The relay: hands stored, unhandled messages to the workers, many per publish.

Webhook requests only write rows. This loop (a process of its own, `manage.py run_relay`) claims
a batch of rows nobody has been given yet, stamps them, and publishes one task for the batch. If
the publish fails the stamps are cleared and the rows are picked up again; if the relay dies in
between, the sweeper clears stale stamps. Either way a message is handed over at least once, and
every step after it is idempotent.
"""

from __future__ import annotations

import threading

import structlog
from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone

from conversations.models import Message

log = structlog.get_logger(__name__)


def relay_once(*, batch_size: int | None = None) -> int:
    """Hand one batch over; returns how many messages it carried."""
    from conversations.tasks import handle_inbound  # tasks import this module's siblings

    batch_size = batch_size or settings.RELAY_BATCH_SIZE
    stamp = timezone.now()
    with transaction.atomic():
        ids = list(
            Message.objects.select_for_update(skip_locked=True)
            .filter(handed_at__isnull=True, processed_at__isnull=True)
            .order_by("id")
            .values_list("id", flat=True)[:batch_size]
        )
        if not ids:
            return 0
        Message.objects.filter(id__in=ids).update(handed_at=stamp)
    try:
        handle_inbound.apply_async(args=[ids], retry=False)
    except Exception:
        Message.objects.filter(id__in=ids, handed_at=stamp).update(handed_at=None)
        raise
    log.debug("relay.handed", count=len(ids), first_id=ids[0])
    return len(ids)


def relay_forever(*, stop: threading.Event | None = None, poll_seconds: float | None = None) -> None:
    """Run until `stop` is set. Polls quickly when idle and drains without pause under load."""
    stop = stop or threading.Event()
    poll_seconds = poll_seconds if poll_seconds is not None else settings.RELAY_POLL_SECONDS
    backoff = 0.5
    log.info("relay.started", poll_seconds=poll_seconds)
    while not stop.is_set():
        try:
            carried = relay_once()
            backoff = 0.5
        except Exception as exc:  # broker or database down: keep trying, the rows are safe
            log.warning("relay.failed", error=exc.__class__.__name__, retry_in=backoff)
            close_old_connections()
            stop.wait(backoff)
            backoff = min(backoff * 2, 10.0)
            continue
        if carried < settings.RELAY_BATCH_SIZE:
            close_old_connections()  # idle moment: drop connections past CONN_MAX_AGE or broken
            stop.wait(poll_seconds)
    log.info("relay.stopped")


def inbound_claim(*, message_ids: list[int]) -> None:
    """Take messages out of the relay's hands because the caller processes them itself."""
    Message.objects.filter(pk__in=message_ids, handed_at__isnull=True).update(handed_at=timezone.now())
