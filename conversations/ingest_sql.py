"""The webhook hot path's one statement: insert a message unless the gateway sent it before.

`INSERT … ON CONFLICT DO NOTHING RETURNING id` (PostgreSQL and SQLite alike) records a new
message or learns it is a duplicate in one round trip, without an exception and without a
savepoint. The SQL text is built once per process from the model; the values still go through
each field's own `get_db_prep_save`, so JSON, dates and encrypted fields are stored exactly as
the ORM would store them.
"""

from __future__ import annotations

from contextlib import nullcontext
from functools import cache

from django.db import connection, transaction

from conversations.models import Message


@cache
def _statement(vendor: str) -> tuple[str, tuple]:
    fields = tuple(field for field in Message._meta.concrete_fields if not field.primary_key)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    # Identifiers come from the model's own metadata, quoted; values are bound parameters.
    table, pk = quote(Message._meta.db_table), quote(Message._meta.pk.column)
    sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) ON CONFLICT DO NOTHING RETURNING {pk}"  # noqa: S608
    return sql, fields


def message_insert_new(row: Message) -> int | None:
    """Insert `row`; its new id, or None when (chip, provider message id) is already stored."""
    sql, fields = _statement(connection.vendor)
    params = [field.get_db_prep_save(field.pre_save(row, add=True), connection) for field in fields]
    # Inside a transaction (several events, or a test) a failure must not poison the rest of it.
    guard = transaction.atomic if connection.in_atomic_block else nullcontext
    with guard(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        inserted = cursor.fetchone()
    if inserted is None:
        return None
    row.pk = inserted[0]
    row._state.adding = False
    return row.pk
