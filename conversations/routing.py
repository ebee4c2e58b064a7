"""After the relay: who a message is from, which conversation it belongs to, whether to answer."""

from __future__ import annotations

from collections.abc import Iterable

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from chips.lifecycle import OUT_OF_SERVICE
from chips.selectors import chip_for_send
from conversations.defaults import DEFAULT_PROFILE
from conversations.identity import lead_resolve
from conversations.models import AgentProfile, Conversation, ConversationStatus, Lead, Message, Owner
from conversations.ownership import followups_cancel_many, human_takeover, own_send_in_flight
from conversations.statuses import Direction, MessageOrigin, MessageStatus
from integrations.providers.base import ProviderError
from integrations.providers.registry import provider_for

log = structlog.get_logger(__name__)

# Why a planned follow-up is cancelled when the customer writes.
LEAD_WROTE = "the lead wrote"
# A send settles within seconds (its answer, or the sweeper marking it unknown): then look again.
ECHO_RECHECK_SECONDS = 5


def profile_for_chip(chip_id: int) -> AgentProfile:
    """The profile assigned to the chip, else the default one (one query either way)."""
    profile = (
        AgentProfile.objects.filter(Q(profilechip__chip_id=chip_id) | Q(is_default=True))
        .order_by("is_default")  # an assignment (is_default false) wins over the default
        .first()
    )
    return profile or default_profile()


def default_profile() -> AgentProfile:
    """The default profile; recreated from the built-in values if an operator deleted it."""
    profile = AgentProfile.objects.filter(is_default=True).first()
    if profile is not None:
        return profile
    try:
        with transaction.atomic():
            return AgentProfile.objects.create(**DEFAULT_PROFILE)
    except IntegrityError:  # created concurrently
        return AgentProfile.objects.get(is_default=True)


def conversation_open(*, lead: Lead, chip_id: int) -> Conversation:
    """The open conversation of a lead with a chip, created if needed (race-safe)."""
    for _ in range(3):
        conversation = Conversation.objects.filter(lead=lead, chip_id=chip_id, status=ConversationStatus.OPEN).first()
        if conversation is not None:
            return conversation
        try:
            with transaction.atomic():
                return Conversation.objects.create(lead=lead, chip_id=chip_id, profile=profile_for_chip(chip_id))
        except IntegrityError:
            continue
    raise RuntimeError(f"could not open a conversation for lead {lead.pk} on chip {chip_id}")


def inbound_attach(*, message_id: int) -> int | None:
    """Attach a message to its conversation and apply the gates.

    Returns the conversation id when a turn should answer, None when the message needs no answer.
    Safe to run any number of times for the same message.
    """
    message = Message.objects.select_related("chip", "conversation").filter(pk=message_id).first()
    if message is None or message.processed_at is not None:
        return None
    conversation = message.conversation
    if conversation is None:
        lead = lead_resolve(contact=contact_with_phone(chip_id=message.chip_id, contact=message.contact))
        conversation = conversation_open(lead=lead, chip_id=message.chip_id)
        attached = Message.objects.filter(pk=message.pk, conversation__isnull=True).update(conversation=conversation)
        if not attached:  # a concurrent run attached it first: follow that one
            conversation = Conversation.objects.get(messages__pk=message.pk)
    now = timezone.now()

    if message.direction == Direction.OUT:
        return _phone_message_attach(message, conversation, now)

    lead_wrote(conversation_ids=[conversation.pk], now=now)
    if message.chip.status in OUT_OF_SERVICE or conversations_not_to_answer([conversation.pk]):
        _mark_processed(message.pk, status=MessageStatus.PROCESSED)
        return None
    return conversation.pk


def lead_wrote(*, conversation_ids: Iterable[int], now) -> None:
    """The conversations' clocks move on; follow-ups planned for the lead's silence are out of place."""
    conversation_ids = list(conversation_ids)
    Conversation.objects.filter(pk__in=conversation_ids).update(last_inbound_at=now, updated_at=now)
    followups_cancel_many(conversation_ids=conversation_ids, reason=LEAD_WROTE)


def conversations_not_to_answer(conversation_ids: Iterable[int]) -> set[int]:
    """Conversations a person owns, or whose lead opted out: their messages are recorded, never answered
    (for an opted-out lead the send gate would refuse anyway)."""
    human_or_opted_out = Q(owner=Owner.HUMAN) | Q(lead__opted_out_at__isnull=False)
    return set(Conversation.objects.filter(human_or_opted_out, pk__in=conversation_ids).values_list("pk", flat=True))


def _phone_message_attach(message: Message, conversation: Conversation, now) -> None:
    """Our number's own message: typed on the phone by a person, unless it is the echo of our send."""
    if message.origin == MessageOrigin.PHONE:
        if own_send_in_flight(conversation_id=conversation.pk, text=message.text, now=now):
            # Possibly our own bubble echoed before the send settled (the echo is then folded into
            # it and this row deleted): look again in a few seconds, once the send has settled.
            _attach_again_soon(message.pk)
            return None
        human_takeover(conversation_id=conversation.pk, reason="a person answered from the phone", now=now)
    Conversation.objects.filter(pk=conversation.pk).update(last_outbound_at=now, updated_at=now)
    _mark_processed(message.pk, status=None)
    return None


def _attach_again_soon(message_id: int) -> None:
    from conversations.tasks import attach_again  # tasks import this module

    def enqueue() -> None:
        try:
            attach_again.apply_async((message_id,), countdown=ECHO_RECHECK_SECONDS)
        except Exception as exc:  # the broker is down: the sweeper hands the row over again later
            log.warning("routing.recheck_not_queued", message_id=message_id, error=exc.__class__.__name__)

    transaction.on_commit(enqueue)


def contact_with_phone(*, chip_id: int, contact: dict) -> dict:
    """A LID-only sender completed with its phone: from a lead that already links them, else the gateway.

    The lead that holds both identifiers is the cache, so each LID costs at most one lookup.
    """
    lid = contact.get("lid")
    if not lid or contact.get("phone"):
        return contact
    known = Lead.objects.filter(wa_lid=lid, phone__isnull=False).values_list("phone", flat=True).first()
    if known:
        return {**contact, "phone": known}
    chip = chip_for_send(chip_id)
    provider = provider_for(chip.gateway, timeout=settings.GATEWAY_HTTP_TIMEOUT)
    try:
        phone = provider.resolve_lid(chip.address, lid)
    except ProviderError as exc:
        log.info("identity.lid_lookup_failed", chip_id=chip_id, error=str(exc))
        phone = None
    return {**contact, "phone": phone} if phone else contact


def _mark_processed(message_id: int, *, status: str | None) -> None:
    changes = {"processed_at": timezone.now()}
    if status:
        changes["status"] = status
    Message.objects.filter(pk=message_id, processed_at__isnull=True).update(**changes)
