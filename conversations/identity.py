"""Finding the lead a message is from: by phone, WhatsApp LID or Meta BSUID.

WhatsApp now hides many users behind a LID (`…@lid`), and Meta's usernames bring business-scoped
ids without a phone. One person can therefore first appear under one identifier and later under
another. When a payload carries two identifiers that belong to two different leads, they are the
same person: the leads are merged, so the conversation history is never split.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from conversations.models import Conversation, ConversationStatus, Lead

IDENTIFIERS = (("phone", "phone"), ("lid", "wa_lid"), ("bsuid", "bsuid"))
# Profile columns a merge fills from the other record when the kept one has none.
PROFILE_COLUMNS = ("name", "push_name", "email", "company", "city", "chatwoot_contact_id", "crm_id")


def lead_resolve(*, contact: dict) -> Lead:
    """The lead for a sender identity: found, completed with new identifiers, merged, or created.

    A concurrent first contact of the same person races on the unique identifier columns: the
    loser's transaction fails and it starts over, finding the winner's row.
    """
    lookups = {column: contact.get(key) for key, column in IDENTIFIERS if contact.get(key)}
    if not lookups:
        raise ValueError("a contact needs a phone, LID or BSUID")
    push_name = contact.get("push_name") or ""
    for attempt in range(3):
        try:
            with transaction.atomic():
                return _resolve(lookups, push_name)
        except IntegrityError:
            if attempt == 2:
                raise
    raise RuntimeError("unreachable")


def _resolve(lookups: dict[str, str], push_name: str) -> Lead:
    leads = _matching_leads(lookups)
    if not leads:
        return Lead.objects.create(push_name=push_name, **lookups)
    keep, *others = leads
    for other in others:
        lead_merge(keep=keep, drop=other)
    changed = [column for column, value in lookups.items() if getattr(keep, column) is None]
    for column in changed:
        setattr(keep, column, lookups[column])
    if push_name and keep.push_name != push_name:
        keep.push_name = push_name
        changed.append("push_name")
    if changed:
        keep.save(update_fields=[*changed, "updated_at"])
    return keep


def _matching_leads(lookups: dict[str, str]) -> list[Lead]:
    """Every lead owning one of the identifiers, oldest first, locked for the merge."""
    leads: dict[int, Lead] = {}
    for column, value in lookups.items():
        for lead in Lead.objects.select_for_update().filter(**{column: value}):
            leads.setdefault(lead.pk, lead)
    return sorted(leads.values(), key=lambda lead: (lead.created_at, lead.pk))


def lead_merge(*, keep: Lead, drop: Lead) -> Lead:
    """Fold `drop` into `keep`: identifiers, answers, opt-out and every conversation with its messages."""
    fields = set()
    for column in PROFILE_COLUMNS:
        if not getattr(keep, column) and getattr(drop, column):
            setattr(keep, column, getattr(drop, column))
            fields.add(column)
    keep.fields = {**drop.fields, **keep.fields}
    keep.score = max(keep.score, drop.score)
    # An opt-out is a promise to the person: whichever record carried it, it stays.
    if drop.opted_out_at and (keep.opted_out_at is None or drop.opted_out_at < keep.opted_out_at):
        keep.opted_out_at = drop.opted_out_at
    fields |= {"fields", "score", "opted_out_at"}

    identifiers = {column: getattr(drop, column) for _, column in IDENTIFIERS if getattr(drop, column)}
    _move_conversations(keep=keep, drop=drop)
    drop.delete()  # frees its identifiers for the unique columns
    for column, value in identifiers.items():
        if getattr(keep, column) is None:
            setattr(keep, column, value)
            fields.add(column)
    keep.save(update_fields=[*sorted(fields), "updated_at"])
    return keep


def _move_conversations(*, keep: Lead, drop: Lead) -> None:
    for conversation in Conversation.objects.select_for_update().filter(lead=drop):
        twin = Conversation.objects.filter(
            lead=keep, chip_id=conversation.chip_id, status=ConversationStatus.OPEN
        ).first()
        if conversation.status == ConversationStatus.OPEN and twin is not None:
            conversation.messages.update(conversation=twin)
            conversation.agent_runs.update(conversation=twin)
            conversation.delete()
        else:
            conversation.lead = keep
            conversation.save(update_fields=["lead", "updated_at"])
