"""The webhook hot path's one statement: insert a message unless the gateway sent it before.

`INSERT … ON CONFLICT DO NOTHING RETURNING id` (PostgreSQL and SQLite alike) records a new
message or learns it is a duplicate in one round trip, without an exception and without a
savepoint. The SQL text is built once per process from the model; the values still go through
each field's own `get_db_prep_save`, so JSON, dates and encrypted fields are stored exactly as
the ORM would store them.

On PostgreSQL, outside a transaction (a webhook with one message: the common case), the rows of
concurrent requests are written together (`group_commit`): one statement takes the whole batch as
a single JSON parameter and `jsonb_to_recordset` turns it back into rows, so the work per row on
the Python side is one dictionary. A batch that PostgreSQL refuses because of one bad row is
written again row by row, so only that row's request sees the error.
"""

from __future__ import annotations

import datetime
import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from contextlib import nullcontext
from functools import cache

from django.conf import settings
from django.db import DataError, IntegrityError, OperationalError, connection, transaction
from django.db.models import CharField, TextField

from conversations.group_commit import GroupCommit, GroupCommitTimeout
from conversations.models import Message

Key = tuple[int, str]


def message_insert_new(row: Message) -> int | None:
    """Insert `row`; its new id, or None when (chip, provider message id) is already stored."""
    key = (row.chip_id, row.provider_message_id)
    if not (row.provider_message_id and _grouped()):
        return _insert_one(row)
    if _recently_stored.holds(key):
        return None
    try:
        pk = _group().submit(row)
    except GroupCommitTimeout as exc:
        # Whether the row was written is unknown: the gateway's retry settles it (the unique constraint).
        raise OperationalError(str(exc)) from exc
    if isinstance(pk, BaseException):
        raise pk  # this row alone was refused (see messages_insert_batch)
    # Committed either way (new, or already there): a redelivery can be answered from memory.
    _recently_stored.add(key)
    if pk is not None:
        row.pk = pk
        row._state.adding = False
    return pk


def message_stored_recently(chip_id: int, provider_message_id: str) -> bool:
    """Whether this process committed the message lately: a redelivery, known without building its row."""
    return bool(provider_message_id) and _grouped() and _recently_stored.holds((chip_id, provider_message_id))


def _grouped() -> bool:
    """Rows are written by group commit (and so remembered once committed) here and now."""
    return settings.INGEST_GROUP_COMMIT and connection.vendor == "postgresql" and not connection.in_atomic_block


# --- one row ---------------------------------------------------------------------------------------


@cache
def _statement(vendor: str) -> tuple[str, tuple]:
    fields = _fields()
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    # Identifiers come from the model's own metadata, quoted; values are bound parameters.
    table, pk = quote(Message._meta.db_table), quote(Message._meta.pk.column)
    sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) ON CONFLICT DO NOTHING RETURNING {pk}"  # noqa: S608
    return sql, fields


def _insert_one(row: Message) -> int | None:
    sql, fields = _statement(connection.vendor)
    params = [field.get_db_prep_save(field.pre_save(row, add=True), connection) for field in fields]
    # Inside a transaction (several events, or a test) a failure must not poison the rest of it.
    guard = transaction.atomic if connection.in_atomic_block else nullcontext
    try:
        with guard(), connection.cursor() as cursor:
            cursor.execute(sql, params)
            inserted = cursor.fetchone()
    except UnicodeEncodeError as exc:
        # JSON may carry a lone surrogate ("\udcff"), which no database text can hold: the body is at fault.
        raise DataError("text is not valid Unicode (an unpaired surrogate)") from exc
    if inserted is None:
        return None
    row.pk = inserted[0]
    row._state.adding = False
    return row.pk


@cache
def _fields() -> tuple:
    return tuple(field for field in Message._meta.concrete_fields if not field.primary_key)


@cache
def _record_reads() -> tuple:
    """(column, how to read the row's value) per field: `pre_save` only where it does something (auto_now)."""
    reads = []
    for field in _fields():
        stamps = getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
        reads.append((field.column, field, stamps))
    return tuple(reads)


# --- a batch (PostgreSQL) ----------------------------------------------------------------------------


@cache
def _batch_statement() -> str:
    quote = connection.ops.quote_name
    fields = _fields()
    columns = ", ".join(quote(field.column) for field in fields)
    # Text columns are read as `text` and narrowed by the INSERT itself, which refuses a value too
    # long for a varchar(n) (a cast to varchar(n) would silently cut it).
    record = ", ".join(
        f"{quote(field.column)} {'text' if isinstance(field, (CharField, TextField)) else field.db_type(connection)}"
        for field in fields
    )
    table, pk = quote(Message._meta.db_table), quote(Message._meta.pk.column)
    chip, provider_id = quote("chip_id"), quote("provider_message_id")
    return (
        f"INSERT INTO {table} ({columns}) SELECT {columns} FROM jsonb_to_recordset(%s::jsonb) AS r({record}) "  # noqa: S608
        f"ON CONFLICT DO NOTHING RETURNING {pk}, {chip}, {provider_id}"
    )


def messages_insert_batch(rows: Sequence[Message]) -> list[int | BaseException | None]:
    """Insert `rows` in one statement; for each, its new id or None (already stored, or repeated here).

    A row PostgreSQL refuses gets its exception as its result, for its own request to raise.
    """
    # One order for every batch: two batches holding the same new ids then never wait on each other
    # in a cycle (a deadlock), whatever order their requests arrived in.
    first_of_key: dict[Key, int] = {}
    for index, row in enumerate(rows):
        first_of_key.setdefault((row.chip_id, row.provider_message_id), index)
    unique = sorted(first_of_key.items())
    try:
        stored = _execute_batch([rows[index] for _key, index in unique])
    except (DataError, IntegrityError):
        # One row PostgreSQL refuses (a NUL character, an over-long id) fails the statement: each row
        # on its own, in arrival order, so that only its request answers with the error (and a later
        # copy of a refused row's id is stored if it can be).
        return [_insert_alone(row) for row in rows]
    return [stored.get(_key(row)) if index == first_of_key[_key(row)] else None for index, row in enumerate(rows)]


def _execute_batch(rows: Sequence[Message]) -> dict[Key, int]:
    records = [_record(row) for row in rows]
    with connection.cursor() as cursor:
        cursor.execute(_batch_statement(), [json.dumps(records)])
        return {(chip_id, provider_id): pk for pk, chip_id, provider_id in cursor.fetchall()}


def _insert_alone(row: Message) -> int | BaseException | None:
    try:
        return _insert_one(row)
    except (DataError, IntegrityError) as exc:
        return exc


def _record(row: Message) -> dict:
    """The row as jsonb_to_recordset reads it: the values `save()` would store, dates in ISO 8601."""
    record = {}
    for column, field, stamps in _record_reads():
        value = field.pre_save(row, add=True) if stamps else getattr(row, field.attname)
        record[column] = value.isoformat() if isinstance(value, datetime.datetime) else value
    return record


def _key(row: Message) -> Key:
    return (row.chip_id, row.provider_message_id)


@cache
def _group() -> GroupCommit:
    return GroupCommit(messages_insert_batch, max_batch=settings.INGEST_GROUP_COMMIT_MAX_ROWS)


# --- deliveries already stored ------------------------------------------------------------------------


class RecentlyStored:
    """(chip, provider message id) pairs this process knows are committed: the newest `size` of them.

    Gateways redeliver what they think was not received — seconds to hours later, often in bursts.
    A redelivery found here is answered without a database round trip; one that is not found goes
    to the database as before, which stays the authority. Only committed rows enter.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._keys: OrderedDict[Key, None] = OrderedDict()
        self._lock = threading.Lock()

    def holds(self, key: Key) -> bool:
        return key in self._keys

    def add(self, key: Key) -> None:
        if self._size <= 0:
            return
        with self._lock:
            self._keys[key] = None
            if len(self._keys) > self._size:
                self._keys.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._keys.clear()


_recently_stored = RecentlyStored(settings.INGEST_RECENT_IDS)


def forget_recently_stored() -> None:
    """For tests and maintenance: after rows are deleted, their redeliveries must be stored again."""
    _recently_stored.clear()
