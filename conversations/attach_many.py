"""Attaching a relay batch at once: a few statements for the whole batch instead of a dozen per message.

Under a burst the relay hands the workers hundreds of messages per task. Most are customers writing
from a phone number, in a conversation that is open or about to be. For those, the leads, the open
conversations, the attachment, the conversations' clocks, the cancelled follow-ups and the gates are
each one statement over the batch. Everything else — a LID or BSUID that may reveal two records of
one person, our own number's messages, a message already attached — takes `inbound_attach`, one by
one, with its locks and merges. Both are safe to repeat: a message handed over twice is attached once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from django.db import connection
from django.utils import timezone

from chips.lifecycle import OUT_OF_SERVICE
from conversations.models import Conversation, ConversationStatus, Lead, Message
from conversations.routing import conversations_not_to_answer, inbound_attach, lead_wrote, profile_for_chip
from conversations.statuses import Direction, MessageStatus


class Arrival(NamedTuple):
    """What attaching needs of a message, read as plain values: a burst is hundreds of rows per batch,
    and building a model instance for each (with its init signals) cost more than the queries."""

    pk: int
    chip_id: int
    chip_status: str
    conversation_id: int | None
    direction: str
    contact: dict | None

    @property
    def phone(self) -> str:
        return self.contact["phone"]


def inbound_attach_many(message_ids: Iterable[int]) -> set[int]:
    """Attach every message; the ids of the conversations that now have something to answer."""
    arrivals = [
        Arrival(*row)
        for row in Message.objects.filter(pk__in=list(message_ids), processed_at__isnull=True)
        .order_by("pk")
        .values_list("pk", "chip_id", "chip__status", "conversation_id", "direction", "contact")
    ]
    simple = [arrival for arrival in arrivals if _simple(arrival)]
    one_by_one = [arrival.pk for arrival in arrivals if not _simple(arrival)]
    answer = {inbound_attach(message_id=message_id) for message_id in one_by_one}
    if simple:
        answer |= _attach_simple(simple)
    answer.discard(None)
    return answer


def _simple(arrival: Arrival) -> bool:
    """A customer's message, not yet attached, identified by a phone number alone."""
    contact = arrival.contact or {}
    return (
        arrival.direction == Direction.IN
        and arrival.conversation_id is None
        and bool(contact.get("phone"))
        and not contact.get("lid")
        and not contact.get("bsuid")
    )


def _attach_simple(arrivals: list[Arrival]) -> set[int]:
    now = timezone.now()
    leads = _lead_ids_by_phone(arrivals)
    conversations = _open_conversation_ids(arrivals, leads)
    wanted = {arrival.pk: conversations[(leads[arrival.phone], arrival.chip_id)] for arrival in arrivals}
    _set_conversations(wanted)
    # What each message is attached to now: ours, or a concurrent run's (a message handed over twice).
    attached = dict(Message.objects.filter(pk__in=wanted).values_list("pk", "conversation_id"))
    conversation_ids = set(attached.values())
    lead_wrote(conversation_ids=conversation_ids, now=now)
    silent = conversations_not_to_answer(conversation_ids)
    gated = [a.pk for a in arrivals if a.chip_status in OUT_OF_SERVICE or attached[a.pk] in silent]
    if gated:
        Message.objects.filter(pk__in=gated, processed_at__isnull=True).update(
            processed_at=now, status=MessageStatus.PROCESSED
        )
    return {attached[a.pk] for a in arrivals if a.pk not in gated}


def _set_conversations(wanted: dict[int, int]) -> None:
    """Each message's conversation, unless it has one already, in one UPDATE joined to a VALUES list.

    (PostgreSQL and SQLite both name a VALUES list's columns column1, column2.) The ORM's form of
    this, a CASE with a WHEN per message, cost more to build than the database took to run it.
    """
    quote = connection.ops.quote_name
    table, pk, conversation = quote(Message._meta.db_table), quote("id"), quote("conversation_id")
    rows = ", ".join(["(%s, %s)"] * len(wanted))
    # Identifiers come from the model's metadata, quoted; ids are bound parameters.
    sql = (
        f"UPDATE {table} SET {conversation} = v.column2 FROM (VALUES {rows}) AS v "  # noqa: S608
        f"WHERE {table}.{pk} = v.column1 AND {table}.{conversation} IS NULL"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for pair in wanted.items() for value in pair])


def _lead_ids_by_phone(arrivals: list[Arrival]) -> dict[str, int]:
    """The lead of every phone, created where there is none; the push name kept up to date."""
    push_names: dict[str, str] = {}
    for arrival in arrivals:  # the latest name given wins; a message without one changes nothing
        name = arrival.contact.get("push_name") or ""
        if name or arrival.phone not in push_names:
            push_names[arrival.phone] = name
    known = _leads(push_names)
    # Sorted: two batches creating the same new leads insert them in one order, so neither waits on the
    # other in a cycle (a deadlock that would fail a whole batch).
    missing = [Lead(phone=phone, push_name=name) for phone, name in sorted(push_names.items()) if phone not in known]
    if missing:
        # A concurrent first contact of the same person may win the unique phone: read what is there.
        Lead.objects.bulk_create(missing, ignore_conflicts=True)
        known |= _leads([lead.phone for lead in missing])
    now = timezone.now()
    renamed = [
        # As a save() would, `updated_at` moves: lists ordered by last change stay right.
        Lead(pk=lead_id, push_name=push_names[phone], updated_at=now)
        for phone, (lead_id, name) in known.items()
        if push_names[phone] and name != push_names[phone]
    ]
    if renamed:
        Lead.objects.bulk_update(renamed, ["push_name", "updated_at"])
    return {phone: lead_id for phone, (lead_id, _name) in known.items()}


def _leads(phones: Iterable[str]) -> dict[str, tuple[int, str]]:
    return {
        phone: (lead_id, name)
        for phone, lead_id, name in Lead.objects.filter(phone__in=list(phones)).values_list("phone", "pk", "push_name")
    }


def _open_conversation_ids(arrivals: list[Arrival], leads: dict[str, int]) -> dict[tuple[int, int], int]:
    pairs = {(leads[arrival.phone], arrival.chip_id) for arrival in arrivals}
    lead_ids = {lead_id for lead_id, _ in pairs}
    chip_ids = {chip_id for _, chip_id in pairs}

    def read() -> dict[tuple[int, int], int]:
        found = Conversation.objects.filter(
            lead_id__in=lead_ids, chip_id__in=chip_ids, status=ConversationStatus.OPEN
        ).values_list("lead_id", "chip_id", "pk")
        return {(lead_id, chip_id): pk for lead_id, chip_id, pk in found if (lead_id, chip_id) in pairs}

    conversations = read()
    missing = pairs - conversations.keys()
    if missing:
        profiles = {chip_id: profile_for_chip(chip_id) for chip_id in {chip for _, chip in missing}}
        new = [Conversation(lead_id=lead, chip_id=chip, profile=profiles[chip]) for lead, chip in sorted(missing)]
        # One open conversation per lead and chip (a partial unique index): a concurrent opener may win.
        Conversation.objects.bulk_create(new, ignore_conflicts=True)
        conversations = read()
    return conversations
