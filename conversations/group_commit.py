"""Group commit: many request threads, one database statement per batch of their rows.

A webhook's only database work is one INSERT. Done by every request thread on its own, each insert
is a round trip, a commit and a wake-up of that thread; at a few thousand webhooks per second on
two cores that overhead, not the insert, is the cost. Here a thread hands its row over and waits.
The first thread to arrive while nobody is writing becomes the leader: it takes everything queued
(its own row first) and writes it with one statement in its own connection. Rows that arrived
meanwhile wait for the leader to finish; then the oldest of them leads the next batch. Batches grow
with the load and a lone request is written at once, without any added delay.

The writer is given the rows and returns one result per row, in order, or raises: the exception
reaches every thread of that batch (each answers 503, so the gateway retries). No thread of its
own, no timer: nothing runs when nothing arrives.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

Row = TypeVar("Row")
Result = TypeVar("Result")

# A leader that never finishes (a hung statement) must not hold its followers forever: they give up
# with an error, the gateway retries, and the unique constraint makes the retry safe.
FOLLOWER_TIMEOUT_SECONDS = 60.0


class GroupCommitTimeout(Exception):
    """The batch this row was in did not finish in time; whether it was written is unknown."""


class _Waiting(Generic[Row, Result]):
    __slots__ = ("batch", "done", "error", "result", "row", "wakeup")

    def __init__(self, row: Row) -> None:
        self.row = row
        # A plain lock held from birth: the waiting thread blocks acquiring it, whoever wakes it
        # releases it. Cheaper than an Event (a condition variable and a second lock) on every request.
        self.wakeup = threading.Lock()
        self.wakeup.acquire()
        self.result: Result | None = None
        self.error: BaseException | None = None
        self.done = False
        self.batch: list[_Waiting[Row, Result]] | None = None  # set when this row's thread is to write it


class GroupCommit(Generic[Row, Result]):
    def __init__(self, write: Callable[[Sequence[Row]], Sequence[Result]], *, max_batch: int = 500) -> None:
        self._write = write
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: list[_Waiting[Row, Result]] = []
        self._writing = False

    def submit(self, row: Row) -> Result:
        """Write `row` (batched with whatever else is waiting) and return its result."""
        waiting = _Waiting(row)
        with self._lock:
            self._queue.append(waiting)
            if not self._writing:
                self._writing = True
                self._take_batch(waiting)
        if waiting.batch is None and not waiting.wakeup.acquire(timeout=FOLLOWER_TIMEOUT_SECONDS):
            self._give_up(waiting)
        if waiting.batch is not None and not waiting.done:
            self._lead(waiting)
        if waiting.error is not None:
            raise waiting.error
        return waiting.result

    def _take_batch(self, leader: _Waiting[Row, Result]) -> None:
        """Under the lock: the oldest queued rows become `leader`'s batch.

        Taken when the leader is chosen, not when it wakes: rows queued meanwhile cannot be claimed twice.
        """
        leader.batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]

    def _give_up(self, waiting: _Waiting[Row, Result]) -> None:
        """A follower that waited too long leaves, unless it was just made a leader."""
        with self._lock:
            if waiting.batch is not None:
                return
            if waiting in self._queue:
                self._queue.remove(waiting)
        raise GroupCommitTimeout("the batch holding this row did not finish in time")

    def _lead(self, leader: _Waiting[Row, Result]) -> None:
        batch = leader.batch
        try:
            results = self._write([waiting.row for waiting in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"writer returned {len(results)} results for {len(batch)} rows")
            for waiting, result in zip(batch, results, strict=True):
                waiting.result = result
        except BaseException as exc:  # every thread of the batch learns it; the leader's own raise is in submit
            for waiting in batch:
                waiting.error = exc
        finally:
            for waiting in batch:
                waiting.done = True
            self._hand_over()
            for waiting in batch:
                if waiting is not leader:  # this thread, awake already
                    waiting.wakeup.release()

    def _hand_over(self) -> None:
        """The oldest row still queued leads the next batch; with none, nobody is writing."""
        with self._lock:
            if not self._queue:
                self._writing = False
                return
            successor = self._queue[0]
            # Under the lock: a follower giving up at this moment must see that it now leads.
            self._take_batch(successor)
        successor.wakeup.release()
