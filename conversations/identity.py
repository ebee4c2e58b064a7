"""Finding the lead a message is from: by phone, WhatsApp LID or Meta BSUID."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from conversations.models import Lead

IDENTIFIERS = (("phone", "phone"), ("lid", "wa_lid"), ("bsuid", "bsuid"))


def lead_resolve(*, contact: dict) -> Lead:
    """The lead for a sender identity, created on first contact, completed with new identifiers.

    A concurrent first contact of the same person races on the unique identifier columns: the
    loser's insert fails and it reads the winner's row instead.
    """
    lookups = {column: contact.get(key) for key, column in IDENTIFIERS if contact.get(key)}
    if not lookups:
        raise ValueError("a contact needs a phone, LID or BSUID")
    for attempt in range(3):
        lead = _find(lookups)
        if lead is None:
            try:
                with transaction.atomic():
                    return Lead.objects.create(push_name=contact.get("push_name") or "", **lookups)
            except IntegrityError:
                if attempt == 2:
                    raise
                continue
        _complete(lead, lookups, contact.get("push_name") or "")
        return lead
    raise RuntimeError("unreachable")


def _find(lookups: dict[str, str]) -> Lead | None:
    for column, value in lookups.items():
        lead = Lead.objects.filter(**{column: value}).first()
        if lead is not None:
            return lead
    return None


def _complete(lead: Lead, lookups: dict[str, str], push_name: str) -> None:
    """Fill identifiers the lead lacks (an identifier owned by another lead is left for merging)."""
    changed = []
    for column, value in lookups.items():
        if getattr(lead, column) is None and not Lead.objects.filter(**{column: value}).exists():
            setattr(lead, column, value)
            changed.append(column)
    if push_name and lead.push_name != push_name:
        lead.push_name = push_name
        changed.append("push_name")
    if changed:
        lead.save(update_fields=[*changed, "updated_at"])
