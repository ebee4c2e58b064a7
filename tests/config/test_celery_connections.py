"""A worker keeps its database connection from task to task, as Django keeps one from request to request.

Celery's Django fixup would close it around every task (a new PostgreSQL backend each time); with
CELERY_DB_REUSE_MAX set it leaves them, and `config.celery` drops only the broken and the too old.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import pytest
from celery import signals
from celery.fixups.django import DjangoWorkerFixup
from django.db import connection

from config.celery import app
from conversations.tasks import sweep


@contextmanager
def worker_signal_handlers():
    """The handlers a worker has: the fixup's, beside the ones `config.celery` connected on import."""
    fixup = DjangoWorkerFixup(app)
    signals.task_prerun.connect(fixup.on_task_prerun)
    signals.task_postrun.connect(fixup.on_task_postrun)
    try:
        yield
    finally:
        signals.task_prerun.disconnect(fixup.on_task_prerun)
        signals.task_postrun.disconnect(fixup.on_task_postrun)


def run_one_task():
    """What a worker thread does around a task: the signals, and a query in between.

    Returns the connection the task's query went over.
    """
    task = sweep
    with worker_signal_handlers():
        signals.task_prerun.send(sender=task, task_id="task-1", task=task, args=(), kwargs={})
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        used = connection.connection
        signals.task_postrun.send(
            sender=task, task_id="task-1", task=task, args=(), kwargs={}, retval=None, state="SUCCESS"
        )
    return used


@pytest.fixture
def open_connection(transactional_db):
    # Outside a test transaction: inside one, Django would rightly close a connection in the wrong
    # autocommit state. CONN_MAX_AGE=600 would set this deadline.
    connection.ensure_connection()
    connection.close_at = time.monotonic() + 600
    yield connection
    connection.close()


def test_a_young_healthy_connection_serves_the_next_task(open_connection):
    before = open_connection.connection

    used = run_one_task()

    assert used is before
    assert open_connection.connection is before


def test_a_connection_past_its_age_is_closed_after_the_task(open_connection):
    before = open_connection.connection
    open_connection.close_at = time.monotonic() - 1

    used = run_one_task()

    assert used is not before  # closed before the task too: its age had passed
    assert open_connection.connection is None


def test_a_broken_connection_is_replaced_before_the_task(open_connection):
    broken = open_connection.connection
    broken.close()  # the server went away; Django learns it from the failed query
    open_connection.errors_occurred = True

    used = run_one_task()

    assert used is not None
    assert used is not broken  # dropped before the task: its query opened a fresh one
