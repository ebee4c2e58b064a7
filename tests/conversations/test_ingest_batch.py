"""The webhook's insert on PostgreSQL: one statement per batch, stored as the ORM would, duplicates once."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.db import DataError, connection, transaction
from django.db.models.signals import post_init
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chips.selectors import routed_chip
from conversations import ingest_sql
from conversations.inbound import webhook_events_record
from conversations.ingest_sql import (
    forget_recently_stored,
    message_insert_new,
    message_stored_recently,
    messages_insert_batch,
)
from conversations.models import Message
from conversations.statuses import OUTBOUND_RANK, Direction, MessageKind, MessageOrigin, MessageStatus
from integrations.providers.base import Contact, InboundMessage
from tests.conversations.helpers import run_threads
from tests.factories import ChipFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

JOIN_SECONDS = 30


def inbound(chip, provider_message_id: str, *, text: str = "Oi", **fields) -> Message:
    """A row built the way conversations.inbound builds one for a customer's message."""
    values = {
        "chip_id": chip.pk,
        "provider": chip.gateway.kind,
        "provider_message_id": provider_message_id,
        "kind": MessageKind.TEXT,
        "text": text,
        "contact": {"phone": "+5511900000001", "lid": "", "bsuid": "", "push_name": "Maria"},
        "raw": {"key": {"id": provider_message_id}},
        "direction": Direction.IN,
        "origin": MessageOrigin.CONTACT,
        "status": MessageStatus.RECEIVED,
    }
    return Message(**(values | fields))


def stored_ids(chip, provider_message_id: str) -> list[int]:
    return list(Message.objects.filter(chip=chip, provider_message_id=provider_message_id).values_list("id", flat=True))


@pytest.fixture
def chip():
    return ChipFactory()


# --- messages_insert_batch ----------------------------------------------------------------------------


def test_batch_stores_every_field_as_given(chip):
    sent = timezone.now() - datetime.timedelta(minutes=3)
    provider_time = datetime.datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=datetime.UTC)
    row = inbound(
        chip,
        "FULL-1",
        text='Olá, tudo bem? 😀 ação "aspas" e \\ barra',
        caption="legenda",
        kind=MessageKind.IMAGE,
        media={"mimetype": "image/jpeg", "ref": {"url": "https://mmg.test/x", "size": 1234}},
        location={"latitude": -23.55, "longitude": -46.63},
        reply_to_provider_id="QUOTED-9",
        contact={"phone": "+5511900000002", "lid": "123@lid", "bsuid": "", "push_name": "José"},
        raw={"data": {"list": [1, 2.5, None, True], "nested": {"é": "ü"}}, "empty": {}},
        provider_timestamp=provider_time,
        direction=Direction.OUT,
        origin=MessageOrigin.PHONE,
        status=MessageStatus.SENT,
        status_rank=OUTBOUND_RANK[MessageStatus.SENT],
        sent_at=sent,
    )
    before = timezone.now()

    [pk] = messages_insert_batch([row])

    stored = Message.objects.get(pk=pk)
    assert stored.chip_id == chip.pk
    assert (stored.provider, stored.provider_message_id) == (chip.gateway.kind, "FULL-1")
    assert (stored.kind, stored.direction, stored.origin) == ("image", "out", "phone")
    assert (stored.status, stored.status_rank) == ("sent", OUTBOUND_RANK[MessageStatus.SENT])
    assert stored.text == 'Olá, tudo bem? 😀 ação "aspas" e \\ barra'
    assert stored.caption == "legenda"
    assert stored.media == {"mimetype": "image/jpeg", "ref": {"url": "https://mmg.test/x", "size": 1234}}
    assert stored.location == {"latitude": -23.55, "longitude": -46.63}
    assert stored.reply_to_provider_id == "QUOTED-9"
    assert stored.contact == {"phone": "+5511900000002", "lid": "123@lid", "bsuid": "", "push_name": "José"}
    assert stored.raw == {"data": {"list": [1, 2.5, None, True], "nested": {"é": "ü"}}, "empty": {}}
    assert stored.provider_timestamp == provider_time
    assert stored.sent_at == sent
    assert stored.created_at >= before and stored.updated_at >= before
    # Fields the row did not set get the model's defaults, as an ORM save gives them.
    assert stored.conversation_id is None and stored.agent_run_id is None
    assert (stored.error, stored.purpose, stored.media_text, stored.sequence, stored.proactive) == (
        "",
        "",
        "",
        0,
        False,
    )
    assert stored.handed_at is None and stored.processed_at is None and stored.revoked_at is None


def test_batch_row_reads_back_like_an_orm_saved_row(chip):
    batch_row = inbound(chip, "SAME-BATCH", raw={"a": [1, {"b": "c"}]}, media={"k": "v"})
    orm_row = inbound(chip, "SAME-ORM", raw={"a": [1, {"b": "c"}]}, media={"k": "v"})
    orm_row.save()

    [pk] = messages_insert_batch([batch_row])

    ignored = {"id", "provider_message_id", "created_at", "updated_at"}
    fields = [field.attname for field in Message._meta.concrete_fields if field.attname not in ignored]
    from_batch = Message.objects.filter(pk=pk).values(*fields).get()
    from_orm = Message.objects.filter(pk=orm_row.pk).values(*fields).get()
    assert from_batch == from_orm


def test_batch_returns_ids_in_the_order_of_its_rows(chip):
    other_chip = ChipFactory()
    # Deliberately not in key order: the statement inserts in key order, the answer follows the rows.
    rows = [
        inbound(chip, "C"),
        inbound(other_chip, "A"),
        inbound(chip, "A"),
        inbound(chip, "B"),
        inbound(other_chip, "Z"),
    ]

    ids = messages_insert_batch(rows)

    assert len(ids) == 5 and all(isinstance(pk, int) for pk in ids)
    assert len(set(ids)) == 5
    for row, pk in zip(rows, ids, strict=True):
        stored = Message.objects.get(pk=pk)
        assert (stored.chip_id, stored.provider_message_id) == (row.chip_id, row.provider_message_id)
    assert Message.objects.count() == 5


def test_batch_answers_none_for_an_id_already_stored_and_leaves_it_untouched(chip):
    [first] = messages_insert_batch([inbound(chip, "OLD", text="first delivery")])

    ids = messages_insert_batch(
        [inbound(chip, "NEW-1"), inbound(chip, "OLD", text="redelivery"), inbound(chip, "NEW-2")]
    )

    assert ids[1] is None
    assert isinstance(ids[0], int) and isinstance(ids[2], int)
    assert stored_ids(chip, "OLD") == [first]
    assert Message.objects.get(pk=first).text == "first delivery"
    assert Message.objects.count() == 3


def test_batch_holding_the_same_id_twice_stores_it_once(chip):
    ids = messages_insert_batch([inbound(chip, "TWICE", text="one"), inbound(chip, "OTHER"), inbound(chip, "TWICE")])

    assert isinstance(ids[0], int)
    assert ids[2] is None
    assert stored_ids(chip, "TWICE") == [ids[0]]
    assert Message.objects.get(pk=ids[0]).text == "one"
    assert Message.objects.count() == 2


def test_same_id_on_two_chips_is_two_messages(chip):
    other_chip = ChipFactory()

    ids = messages_insert_batch([inbound(chip, "SHARED"), inbound(other_chip, "SHARED")])

    assert all(isinstance(pk, int) for pk in ids) and ids[0] != ids[1]
    assert Message.objects.count() == 2


@pytest.mark.parametrize(
    "bad",
    [
        {"text": "nul \x00 inside"},
        {"provider_message_id": "X" * 129},
        {"raw": {"data": "nul \x00 inside json"}},
        {"text": "lone \udcff surrogate"},
    ],
    ids=["nul-in-text", "id-too-long", "nul-in-json", "lone-surrogate"],
)
def test_one_refused_row_gets_its_error_and_the_rest_of_the_batch_is_stored(chip, bad):
    rows = [inbound(chip, "GOOD-1"), inbound(chip, "BAD"), inbound(chip, "GOOD-2")]
    for name, value in bad.items():
        setattr(rows[1], name, value)

    results = messages_insert_batch(rows)

    assert isinstance(results[1], DataError)
    assert isinstance(results[0], int) and isinstance(results[2], int)
    assert set(Message.objects.values_list("provider_message_id", flat=True)) == {"GOOD-1", "GOOD-2"}
    assert Message.objects.get(pk=results[0]).provider_message_id == "GOOD-1"
    assert Message.objects.get(pk=results[2]).provider_message_id == "GOOD-2"


def test_refused_batch_still_answers_duplicates_as_none(chip):
    [old] = messages_insert_batch([inbound(chip, "OLD")])

    results = messages_insert_batch([inbound(chip, "OLD"), inbound(chip, "BAD", text="\x00"), inbound(chip, "NEW")])

    assert results[0] is None
    assert isinstance(results[1], DataError)
    assert isinstance(results[2], int)
    assert stored_ids(chip, "OLD") == [old]
    assert Message.objects.count() == 2


def test_a_later_copy_of_a_refused_rows_id_is_stored(chip):
    # Same id twice in one batch, the first copy unstorable: the second must not be taken for a duplicate.
    results = messages_insert_batch([inbound(chip, "K", text="bad \x00"), inbound(chip, "K", text="good")])

    assert isinstance(results[0], DataError)
    assert isinstance(results[1], int)
    assert Message.objects.get(pk=results[1]).text == "good"


def test_a_batch_that_did_not_finish_in_time_is_a_database_error(chip, monkeypatch):
    # The webhook turns a DatabaseError into 503, so the gateway retries; the unique constraint makes that safe.
    from django.db import OperationalError

    from conversations.group_commit import GroupCommitTimeout

    def never_finishes(row):
        raise GroupCommitTimeout("the batch holding this row did not finish in time")

    monkeypatch.setattr(ingest_sql._group(), "submit", never_finishes)

    with pytest.raises(OperationalError):
        message_insert_new(inbound(chip, "SLOW"))
    assert not ingest_sql._recently_stored.holds((chip.pk, "SLOW"))


# --- message_insert_new: the grouped path -----------------------------------------------------------


def test_concurrent_inserts_are_each_stored_once_and_a_shared_id_is_won_by_one_thread(chip, monkeypatch):
    written: list[int] = []
    group = ingest_sql._group()
    write = group._write

    def counting_write(rows):
        written.append(len(rows))
        return write(rows)

    monkeypatch.setattr(group, "_write", counting_write)
    barrier = threading.Barrier(32)
    results: dict[str, list] = {"distinct": [], "shared": []}
    errors: list[BaseException] = []
    lock = threading.Lock()

    def insert(provider_message_id: str, which: str) -> None:
        try:
            barrier.wait(JOIN_SECONDS)
            pk = message_insert_new(inbound(chip, provider_message_id))
            with lock:
                results[which].append((provider_message_id, pk))
        except BaseException as exc:  # reported below with the thread's own failure
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=insert, args=(f"DISTINCT-{n}", "distinct")) for n in range(16)]
    threads += [threading.Thread(target=insert, args=("SHARED", "shared")) for _ in range(16)]
    run_threads(threads, timeout=JOIN_SECONDS)

    assert errors == []
    assert sum(written) == 32  # every row went through the batch writer
    assert len(results["distinct"]) == 16
    for provider_message_id, pk in results["distinct"]:
        assert isinstance(pk, int)
        assert stored_ids(chip, provider_message_id) == [pk]
    shared = [pk for _id, pk in results["shared"]]
    winners = [pk for pk in shared if pk is not None]
    assert len(shared) == 16 and len(winners) == 1
    assert stored_ids(chip, "SHARED") == winners
    assert Message.objects.count() == 17


def test_grouped_insert_sets_the_rows_id_like_a_save(chip):
    row = inbound(chip, "ID-SET")

    pk = message_insert_new(row)

    assert isinstance(pk, int)
    assert row.pk == pk and row._state.adding is False
    assert Message.objects.get(pk=pk).provider_message_id == "ID-SET"


def test_redelivery_of_a_stored_row_is_answered_from_memory_until_forgotten(chip):
    first = message_insert_new(inbound(chip, "REDELIVERED"))
    assert isinstance(first, int)

    with CaptureQueriesContext(connection) as memory:
        assert message_insert_new(inbound(chip, "REDELIVERED")) is None
    assert len(memory.captured_queries) == 0

    forget_recently_stored()
    with CaptureQueriesContext(connection) as database:
        assert message_insert_new(inbound(chip, "REDELIVERED")) is None
    assert len(database.captured_queries) == 1
    assert "jsonb_to_recordset" in database.captured_queries[0]["sql"]
    assert stored_ids(chip, "REDELIVERED") == [first]


def test_a_redelivery_through_the_webhook_builds_no_row_once_remembered(chip):
    contact = Contact(phone="+5511900000009", push_name="Maria")
    event = InboundMessage(provider_message_id="AGAIN", contact=contact, from_me=False, kind="text", text="Oi")
    routed = routed_chip(chip)
    assert not message_stored_recently(chip.pk, "AGAIN")
    assert webhook_events_record(chip=routed, events=[event]).queued

    built = []

    def count(sender, instance, **kwargs):
        built.append(instance)

    post_init.connect(count, sender=Message, dispatch_uid="count-built-messages")
    try:
        with CaptureQueriesContext(connection) as queries:
            outcome = webhook_events_record(chip=routed, events=[event])
    finally:
        post_init.disconnect(dispatch_uid="count-built-messages", sender=Message)

    assert outcome.duplicates == 1 and not outcome.queued
    assert built == [] and queries.captured_queries == []
    assert message_stored_recently(chip.pk, "AGAIN")
    forget_recently_stored()
    assert not message_stored_recently(chip.pk, "AGAIN")
    assert webhook_events_record(chip=routed, events=[event]).duplicates == 1  # the database still knows
    assert len(stored_ids(chip, "AGAIN")) == 1


def test_a_refused_row_raises_for_its_request_and_is_not_remembered_as_stored(chip):
    with pytest.raises(DataError):
        message_insert_new(inbound(chip, "FIXED-LATER", text="nul \x00"))
    assert Message.objects.count() == 0

    pk = message_insert_new(inbound(chip, "FIXED-LATER", text="clean"))

    assert isinstance(pk, int)
    assert Message.objects.get(pk=pk).text == "clean"


def test_rows_of_other_chips_are_not_answered_from_memory(chip):
    other_chip = ChipFactory()
    assert isinstance(message_insert_new(inbound(chip, "PER-CHIP")), int)

    assert isinstance(message_insert_new(inbound(other_chip, "PER-CHIP")), int)
    assert Message.objects.filter(provider_message_id="PER-CHIP").count() == 2


# --- message_insert_new: the single-row path -------------------------------------------------------


def test_without_group_commit_a_single_row_statement_is_used(chip, settings):
    settings.INGEST_GROUP_COMMIT = False
    row = inbound(chip, "SINGLE")

    with CaptureQueriesContext(connection) as queries:
        pk = message_insert_new(row)

    assert isinstance(pk, int) and row.pk == pk
    [query] = queries.captured_queries
    assert "VALUES (" in query["sql"]
    assert "jsonb_to_recordset" not in query["sql"]
    with CaptureQueriesContext(connection) as again:
        assert message_insert_new(inbound(chip, "SINGLE")) is None
    assert len(again.captured_queries) == 1  # no memory on this path: the database answers
    assert stored_ids(chip, "SINGLE") == [pk]


def test_inside_a_transaction_the_single_row_path_is_used_and_a_refusal_does_not_break_it(chip):
    with transaction.atomic():
        with CaptureQueriesContext(connection) as queries:
            pk = message_insert_new(inbound(chip, "IN-TX"))
        assert any("VALUES (" in query["sql"] for query in queries.captured_queries)
        assert not any("jsonb_to_recordset" in query["sql"] for query in queries.captured_queries)
        with pytest.raises(DataError):
            message_insert_new(inbound(chip, "IN-TX-BAD", text="nul \x00"))
        # The refused row rolled back only its own savepoint: the transaction goes on.
        assert message_insert_new(inbound(chip, "IN-TX")) is None
        assert isinstance(message_insert_new(inbound(chip, "IN-TX-2")), int)

    assert stored_ids(chip, "IN-TX") == [pk]
    assert set(Message.objects.values_list("provider_message_id", flat=True)) == {"IN-TX", "IN-TX-2"}


def test_row_without_a_provider_id_is_stored_each_time(chip):
    first = message_insert_new(inbound(chip, None))
    second = message_insert_new(inbound(chip, None))

    assert isinstance(first, int) and isinstance(second, int) and first != second
    assert Message.objects.filter(provider_message_id__isnull=True).count() == 2
