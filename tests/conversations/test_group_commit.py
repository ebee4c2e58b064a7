"""GroupCommit: concurrent submits share one write per batch, and each thread gets its own row's answer."""

from __future__ import annotations

import threading
import time

import pytest

from conversations import group_commit
from conversations.group_commit import GroupCommit, GroupCommitTimeout

JOIN_SECONDS = 10


class Recorder:
    """A writer that records its batches and answers `row * 10`.

    The first batch can be held open (so that the next one queues behind it), and the second can
    be answered by `second` instead (to make exactly that batch fail).
    """

    def __init__(self, *, hold_first: bool = False, second=None) -> None:
        self.batches: list[list[int]] = []
        self.release = threading.Event()
        self.writing_first = threading.Event()
        self._hold_first = hold_first
        self._second = second
        self._lock = threading.Lock()

    def __call__(self, rows):
        with self._lock:
            self.batches.append(list(rows))
            number = len(self.batches)
        if number == 1 and self._hold_first:
            self.writing_first.set()
            assert self.release.wait(JOIN_SECONDS), "the test never released the first batch"
        if number == 2 and self._second is not None:
            return self._second(rows)
        return [row * 10 for row in rows]

    def written(self) -> list[int]:
        return [row for batch in self.batches for row in batch]


class Submitter(threading.Thread):
    """Submits one row (after an optional barrier) and keeps what submit returned or raised."""

    def __init__(self, group: GroupCommit, row: int, barrier: threading.Barrier | None = None) -> None:
        super().__init__(daemon=True)
        self.group, self.row, self.barrier = group, row, barrier
        self.result = None
        self.error: BaseException | None = None

    def run(self) -> None:
        if self.barrier is not None:
            self.barrier.wait(JOIN_SECONDS)
        try:
            self.result = self.group.submit(self.row)
        except BaseException as exc:  # the test inspects whatever submit raised
            self.error = exc


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + JOIN_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.001)


def queued(group: GroupCommit) -> int:
    with group._lock:
        return len(group._queue)


def join_all(threads) -> None:
    for thread in threads:
        thread.join(timeout=JOIN_SECONDS)
    assert not any(thread.is_alive() for thread in threads), "a submit never returned"


def start_leader_holding_first_batch(group: GroupCommit, writer: Recorder, row: int = 0) -> Submitter:
    leader = Submitter(group, row)
    leader.start()
    assert writer.writing_first.wait(JOIN_SECONDS)
    return leader


def start_queued(group: GroupCommit, rows) -> list[Submitter]:
    """Submitters for `rows`, started and waiting in the queue behind the batch being written."""
    threads = [Submitter(group, row) for row in rows]
    for thread in threads:
        thread.start()
    wait_until(lambda: queued(group) == len(threads), "the submitters to queue")
    return threads


def test_lone_submit_is_written_at_once_as_a_batch_of_one():
    writer = Recorder()
    group = GroupCommit(writer)

    assert group.submit(7) == 70
    assert group.submit(8) == 80
    assert writer.batches == [[7], [8]]


def test_concurrent_submits_each_get_their_own_result_and_queued_rows_share_the_next_batch():
    writer = Recorder(hold_first=True)
    group = GroupCommit(writer)
    leader = start_leader_holding_first_batch(group, writer, row=0)
    barrier = threading.Barrier(24)
    followers = [Submitter(group, row, barrier) for row in range(1, 25)]
    for thread in followers:
        thread.start()
    wait_until(lambda: queued(group) == 24, "every follower to queue behind the open batch")

    writer.release.set()
    join_all([leader, *followers])

    assert [thread.error for thread in (leader, *followers)] == [None] * 25
    assert [(thread.row, thread.result) for thread in (leader, *followers)] == [(row, row * 10) for row in range(25)]
    assert [len(batch) for batch in writer.batches] == [1, 24]
    assert writer.batches[0] == [0]
    assert sorted(writer.written()) == list(range(25))  # none lost, none written twice


def test_many_threads_at_once_all_get_their_own_result_exactly_once():
    writer = Recorder()
    group = GroupCommit(writer)
    barrier = threading.Barrier(40)
    threads = [Submitter(group, row, barrier) for row in range(40)]
    for thread in threads:
        thread.start()
    join_all(threads)

    assert all(thread.error is None and thread.result == thread.row * 10 for thread in threads)
    assert sorted(writer.written()) == list(range(40))
    assert queued(group) == 0 and group._writing is False


def test_batches_never_exceed_max_batch_and_every_row_is_answered():
    writer = Recorder(hold_first=True)
    group = GroupCommit(writer, max_batch=3)
    leader = start_leader_holding_first_batch(group, writer, row=100)
    followers = start_queued(group, range(10))

    writer.release.set()
    join_all([leader, *followers])

    assert leader.result == 1000
    assert all(thread.error is None and thread.result == thread.row * 10 for thread in followers)
    assert max(len(batch) for batch in writer.batches) <= 3
    assert [len(batch) for batch in writer.batches] == [1, 3, 3, 3, 1]
    assert sorted(writer.written()) == [*range(10), 100]


def test_writer_exception_reaches_every_thread_of_its_batch_and_the_next_batch_still_works():
    boom = ConnectionError("database went away")

    def fail(rows):
        raise boom

    writer = Recorder(hold_first=True, second=fail)
    group = GroupCommit(writer)
    leader = start_leader_holding_first_batch(group, writer)
    failing = start_queued(group, range(1, 6))

    writer.release.set()
    join_all([leader, *failing])

    assert (leader.result, leader.error) == (0, None)
    assert [thread.error for thread in failing] == [boom] * 5
    assert [thread.result for thread in failing] == [None] * 5
    assert group.submit(6) == 60  # the group is not stuck after a failed batch
    assert writer.batches == [[0], [1, 2, 3, 4, 5], [6]]


def test_a_lone_writer_failure_is_raised_to_its_submitter_and_later_submits_proceed():
    calls = []

    def write(rows):
        calls.append(list(rows))
        if len(calls) == 1:
            raise ValueError("refused")
        return [row * 10 for row in rows]

    group = GroupCommit(write)
    with pytest.raises(ValueError, match="refused"):
        group.submit(1)
    assert group.submit(2) == 20
    assert calls == [[1], [2]]


def test_writer_returning_the_wrong_number_of_results_fails_that_batch():
    writer = Recorder(hold_first=True, second=lambda rows: [row * 10 for row in rows][:-1])
    group = GroupCommit(writer)
    leader = start_leader_holding_first_batch(group, writer)
    short = start_queued(group, (1, 2, 3))

    writer.release.set()
    join_all([leader, *short])

    assert leader.result == 0
    for thread in short:
        assert isinstance(thread.error, RuntimeError)
        assert "2 results for 3 rows" in str(thread.error)
        assert thread.result is None
    assert group.submit(4) == 40
    assert writer.batches == [[0], [1, 2, 3], [4]]


def test_lone_submit_with_a_writer_answering_nothing_raises():
    group = GroupCommit(lambda rows: [])
    with pytest.raises(RuntimeError, match="0 results for 1 rows"):
        group.submit(1)


def test_follower_of_a_batch_that_never_finishes_gives_up_and_leaves_the_queue(monkeypatch):
    monkeypatch.setattr(group_commit, "FOLLOWER_TIMEOUT_SECONDS", 0.2)
    writer = Recorder(hold_first=True)
    group = GroupCommit(writer)
    leader = start_leader_holding_first_batch(group, writer, row=1)

    stuck = Submitter(group, 2)
    stuck.start()
    join_all([stuck])
    assert isinstance(stuck.error, GroupCommitTimeout)
    assert queued(group) == 0  # it left the queue: its row will not be written later

    monkeypatch.setattr(group_commit, "FOLLOWER_TIMEOUT_SECONDS", JOIN_SECONDS)
    later = Submitter(group, 3)
    later.start()
    wait_until(lambda: queued(group) == 1, "the later row to queue")
    writer.release.set()
    join_all([leader, later])

    assert (leader.result, later.result) == (10, 30)
    assert later.error is None
    assert writer.batches == [[1], [3]]
    assert group.submit(4) == 40


def test_follower_whose_batch_is_being_written_too_long_gives_up_and_the_rest_of_the_batch_is_answered(
    monkeypatch,
):
    # Long enough for the follower to be taken into the second batch before it gives up.
    monkeypatch.setattr(group_commit, "FOLLOWER_TIMEOUT_SECONDS", 2.0)
    first_release, second_release = threading.Event(), threading.Event()
    writing_first, writing_second = threading.Event(), threading.Event()
    batches: list[list[int]] = []

    def write(rows):
        batches.append(list(rows))
        if len(batches) == 1:
            writing_first.set()
            assert first_release.wait(JOIN_SECONDS)
        elif len(batches) == 2:
            writing_second.set()
            assert second_release.wait(JOIN_SECONDS)
        return [row * 10 for row in rows]

    group = GroupCommit(write)
    leader = Submitter(group, 0)
    leader.start()
    assert writing_first.wait(JOIN_SECONDS)
    second_leader, follower = Submitter(group, 1), Submitter(group, 2)
    second_leader.start()
    wait_until(lambda: queued(group) == 1, "the second batch's leader to queue")
    follower.start()
    wait_until(lambda: queued(group) == 2, "the follower to queue")
    first_release.set()
    assert writing_second.wait(JOIN_SECONDS)
    assert batches[1] == [1, 2]

    join_all([follower])  # gives up while its batch is still being written
    assert isinstance(follower.error, GroupCommitTimeout)
    second_release.set()
    join_all([leader, second_leader])

    assert (leader.result, second_leader.result) == (0, 10)
    assert group.submit(3) == 30
    assert batches == [[0], [1, 2], [3]]
