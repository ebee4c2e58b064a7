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

from django.db.models import Case, IntegerField, Value, When
from django.utils import timezone

from chips.lifecycle import OUT_OF_SERVICE
from conversations.models import Conversation, ConversationStatus, Lead, Message
from conversations.routing import conversations_not_to_answer, inbound_attach, lead_wrote, profile_for_chip
from conversations.statuses import Direction, MessageStatus


def inbound_attach_many(message_ids: Iterable[int]) -> set[int]:
    """Attach every message; the ids of the conversations that now have something to answer."""
    messages = list(
        Message.objects.filter(pk__in=list(message_ids), processed_at__isnull=True)
        .select_related("chip")
        .only("pk", "chip", "chip__status", "conversation", "direction", "contact")
        .order_by("pk")
    )
    simple = [message for message in messages if _simple(message)]
    one_by_one = [message.pk for message in messages if not _simple(message)]
    answer = {inbound_attach(message_id=message_id) for message_id in one_by_one}
    if simple:
        answer |= _attach_simple(simple)
    answer.discard(None)
    return answer


def _simple(message: Message) -> bool:
    """A customer's message, not yet attached, identified by a phone number alone."""
    contact = message.contact or {}
    return (
        message.direction == Direction.IN
        and message.conversation_id is None
        and bool(contact.get("phone"))
        and not contact.get("lid")
        and not contact.get("bsuid")
    )


def _attach_simple(messages: list[Message]) -> set[int]:
    now = timezone.now()
    leads = _leads_by_phone(messages)
    conversations = _open_conversations(messages, leads)
    wanted = {message.pk: conversations[(leads[_phone(message)].pk, message.chip_id)].pk for message in messages}
    Message.objects.filter(pk__in=wanted, conversation__isnull=True).update(
        conversation_id=Case(*(When(pk=pk, then=Value(cid)) for pk, cid in wanted.items()), output_field=IntegerField())
    )
    # What each message is attached to now: ours, or a concurrent run's (a message handed over twice).
    attached = dict(Message.objects.filter(pk__in=wanted).values_list("pk", "conversation_id"))
    conversation_ids = set(attached.values())
    lead_wrote(conversation_ids=conversation_ids, now=now)
    silent = conversations_not_to_answer(conversation_ids)
    gated = [m.pk for m in messages if m.chip.status in OUT_OF_SERVICE or attached[m.pk] in silent]
    if gated:
        Message.objects.filter(pk__in=gated, processed_at__isnull=True).update(
            processed_at=now, status=MessageStatus.PROCESSED
        )
    return {attached[m.pk] for m in messages if m.pk not in gated}


def _phone(message: Message) -> str:
    return message.contact["phone"]


def _leads_by_phone(messages: list[Message]) -> dict[str, Lead]:
    """The lead of every phone, created where there is none; the push name kept up to date."""
    push_names: dict[str, str] = {}
    for message in messages:  # the latest name given wins; a message without one changes nothing
        name = message.contact.get("push_name") or ""
        if name or _phone(message) not in push_names:
            push_names[_phone(message)] = name
    leads = {lead.phone: lead for lead in Lead.objects.filter(phone__in=push_names)}
    # Sorted: two batches creating the same new leads insert them in one order, so neither waits on the
    # other in a cycle (a deadlock that would fail a whole batch).
    missing = [Lead(phone=phone, push_name=name) for phone, name in sorted(push_names.items()) if phone not in leads]
    if missing:
        # A concurrent first contact of the same person may win the unique phone: read what is there.
        Lead.objects.bulk_create(missing, ignore_conflicts=True)
        leads |= {lead.phone: lead for lead in Lead.objects.filter(phone__in=[lead.phone for lead in missing])}
    renamed = [lead for phone, lead in leads.items() if push_names[phone] and lead.push_name != push_names[phone]]
    now = timezone.now()
    for lead in renamed:
        lead.push_name = push_names[lead.phone]
        lead.updated_at = now  # as a save() would: lists ordered by last change stay right
    if renamed:
        Lead.objects.bulk_update(renamed, ["push_name", "updated_at"])
    return leads


def _open_conversations(messages: list[Message], leads: dict[str, Lead]) -> dict[tuple[int, int], Conversation]:
    pairs = {(leads[_phone(message)].pk, message.chip_id) for message in messages}
    lead_ids = {lead_id for lead_id, _ in pairs}
    chip_ids = {chip_id for _, chip_id in pairs}

    def read() -> dict[tuple[int, int], Conversation]:
        found = Conversation.objects.filter(lead_id__in=lead_ids, chip_id__in=chip_ids, status=ConversationStatus.OPEN)
        return {(c.lead_id, c.chip_id): c for c in found if (c.lead_id, c.chip_id) in pairs}

    conversations = read()
    missing = pairs - conversations.keys()
    if missing:
        profiles = {chip_id: profile_for_chip(chip_id) for chip_id in {chip for _, chip in missing}}
        new = [Conversation(lead_id=lead, chip_id=chip, profile=profiles[chip]) for lead, chip in sorted(missing)]
        # One open conversation per lead and chip (a partial unique index): a concurrent opener may win.
        Conversation.objects.bulk_create(new, ignore_conflicts=True)
        conversations = read()
    return conversations
