"""Attaching a relay batch at once: the same leads, conversations and gates as one by one, in a few statements."""

import threading
from datetime import timedelta
from itertools import count

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chips.lifecycle import OUT_OF_SERVICE, ChipStatus
from conversations import attach_many, routing
from conversations.attach_many import inbound_attach_many
from conversations.identity import lead_resolve
from conversations.models import (
    AgentProfile,
    Conversation,
    ConversationStatus,
    FollowUp,
    FollowUpStatus,
    Lead,
    Message,
    Owner,
    ProfileChip,
)
from conversations.routing import LEAD_WROTE, inbound_attach, profile_for_chip
from conversations.statuses import Direction, MessageOrigin, MessageStatus
from tests.conversations.helpers import run_threads
from tests.factories import ChipFactory, ConversationFactory, LeadFactory

JOIN_SECONDS = 30
_ids = count(1)


def inbound(chip, phone=None, *, push_name="", lid=None, bsuid=None, text="Oi", direction=Direction.IN, origin=None):
    """A stored, not yet attached message with the sender identity as the relay stores it."""
    return Message.objects.create(
        chip=chip,
        direction=direction,
        origin=origin or (MessageOrigin.CONTACT if direction == Direction.IN else MessageOrigin.PHONE),
        provider="evolution",
        provider_message_id=f"AM{next(_ids):08d}",
        status=MessageStatus.RECEIVED,
        text=text,
        contact={"phone": phone, "lid": lid, "bsuid": bsuid, "push_name": push_name or None},
    )


def stored(message):
    return Message.objects.get(pk=message.pk)


@pytest.fixture
def one_by_one(monkeypatch):
    """The message ids that took `inbound_attach`, in the order they took it."""
    taken: list[int] = []

    def spy(*, message_id):
        taken.append(message_id)
        return inbound_attach(message_id=message_id)

    monkeypatch.setattr(attach_many, "inbound_attach", spy)
    return taken


# --- the batch path ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_new_phones_get_one_lead_and_one_open_conversation_each(one_by_one):
    chip = ChipFactory()
    profile = AgentProfile.objects.create(name="Solar", company_name="Solar Ltda")
    ProfileChip.objects.create(profile=profile, chip=chip)
    ana_first = inbound(chip, "+5511900000001", push_name="Ana")
    bia = inbound(chip, "+5511900000002", push_name="Bia")
    ana_second = inbound(chip, "+5511900000001", push_name="Ana", text="Tem desconto?")
    before = timezone.now()

    answer = inbound_attach_many([ana_first.pk, bia.pk, ana_second.pk])

    assert one_by_one == []  # every message was simple
    assert Lead.objects.count() == 2
    ana = Lead.objects.get(phone="+5511900000001")
    assert (ana.push_name, ana.wa_lid, ana.bsuid) == ("Ana", None, None)
    assert Lead.objects.get(phone="+5511900000002").push_name == "Bia"
    assert Conversation.objects.count() == 2
    for conversation in Conversation.objects.all():
        assert conversation.status == ConversationStatus.OPEN
        assert conversation.owner == Owner.BOT
        assert conversation.chip_id == chip.pk
        assert conversation.profile == profile_for_chip(chip.pk) == profile
        assert conversation.last_inbound_at >= before
    ana_conversation = Conversation.objects.get(lead=ana)
    assert stored(ana_first).conversation_id == stored(ana_second).conversation_id == ana_conversation.pk
    assert stored(bia).conversation.lead.phone == "+5511900000002"
    assert answer == set(Conversation.objects.values_list("pk", flat=True))
    # Attached, not answered yet: the turn marks them processed.
    assert {(m.status, m.processed_at) for m in Message.objects.all()} == {(MessageStatus.RECEIVED, None)}


@pytest.mark.django_db
def test_a_chip_without_a_profile_of_its_own_opens_conversations_with_the_default():
    chip = ChipFactory()
    message = inbound(chip, "+5511900000001")

    inbound_attach_many([message.pk])

    conversation = stored(message).conversation
    assert conversation.profile.is_default
    assert conversation.profile == profile_for_chip(chip.pk)
    assert conversation.lead.push_name == ""  # the payload named nobody


@pytest.mark.django_db
def test_a_known_lead_and_its_open_conversation_are_reused_and_the_push_name_kept_current():
    chip = ChipFactory()
    lead = LeadFactory(phone="+5511900000001", push_name="Maria", name="Maria Souza")
    conversation = ConversationFactory(lead=lead, chip=chip)
    unnamed = inbound(chip, "+5511900000001", text="Oi de novo")
    renamed = inbound(chip, "+5511900000001", push_name="Mari")

    answer = inbound_attach_many([renamed.pk, unnamed.pk])

    assert answer == {conversation.pk}
    assert Lead.objects.count() == 1
    assert Conversation.objects.count() == 1
    assert stored(renamed).conversation_id == stored(unnamed).conversation_id == conversation.pk
    lead.refresh_from_db()
    assert (lead.push_name, lead.name) == ("Mari", "Maria Souza")
    conversation.refresh_from_db()
    assert conversation.last_inbound_at is not None


@pytest.mark.django_db
def test_a_renamed_lead_counts_as_changed():
    # Lead lists are ordered by last change, as after a save().
    chip = ChipFactory()
    lead = LeadFactory(phone="+5511900000001", push_name="Maria")
    Lead.objects.filter(pk=lead.pk).update(updated_at=timezone.now() - timedelta(days=3))
    before = Lead.objects.get(pk=lead.pk).updated_at

    inbound_attach_many([inbound(chip, "+5511900000001", push_name="Mari").pk])

    lead.refresh_from_db()
    assert lead.push_name == "Mari"
    assert lead.updated_at > before


@pytest.mark.django_db
def test_new_leads_and_conversations_are_inserted_in_one_order_whatever_the_batch_order():
    # Two workers inserting the same new leads in opposite orders could each wait for the other
    # (a deadlock that fails a whole batch): both insert in phone order, then (lead, chip) order.
    chip = ChipFactory()
    phones = ["+5511900000003", "+5511900000001", "+5511900000002"]
    messages = [inbound(chip, phone) for phone in phones]

    inbound_attach_many([message.pk for message in reversed(messages)])

    # Ids are given in insertion order.
    assert list(Lead.objects.order_by("pk").values_list("phone", flat=True)) == sorted(phones)
    assert list(Conversation.objects.order_by("pk").values_list("lead__phone", flat=True)) == sorted(phones)


@pytest.mark.django_db
def test_a_later_message_without_a_push_name_keeps_the_name_an_earlier_one_gave():
    chip = ChipFactory()
    known = LeadFactory(phone="+5511900000001", push_name="Maria")
    messages = [
        inbound(chip, "+5511900000001", push_name="Mari"),
        inbound(chip, "+5511900000001"),
        inbound(chip, "+5511900000002", push_name="Bia"),
        inbound(chip, "+5511900000002"),
    ]

    inbound_attach_many([m.pk for m in messages])

    # As one by one: a payload that names nobody changes no name.
    known.refresh_from_db()
    assert known.push_name == "Mari"
    assert Lead.objects.get(phone="+5511900000002").push_name == "Bia"


@pytest.mark.django_db
def test_a_known_lead_writing_to_another_chip_gets_a_conversation_there():
    chip, other_chip = ChipFactory(), ChipFactory()
    lead = LeadFactory(phone="+5511900000001")
    elsewhere = ConversationFactory(lead=lead, chip=other_chip)
    message = inbound(chip, "+5511900000001")

    answer = inbound_attach_many([message.pk])

    conversation = stored(message).conversation
    assert (conversation.lead_id, conversation.chip_id, conversation.status) == (lead.pk, chip.pk, "open")
    assert answer == {conversation.pk} and conversation.pk != elsewhere.pk
    assert Lead.objects.count() == 1
    elsewhere.refresh_from_db()
    assert elsewhere.last_inbound_at is None


@pytest.mark.django_db
def test_a_closed_conversation_is_not_reopened_a_new_one_is():
    chip = ChipFactory()
    lead = LeadFactory(phone="+5511900000001")
    closed = ConversationFactory(lead=lead, chip=chip, status=ConversationStatus.CLOSED)
    message = inbound(chip, "+5511900000001")

    answer = inbound_attach_many([message.pk])

    conversation = stored(message).conversation
    assert conversation.pk != closed.pk
    assert (conversation.lead_id, conversation.chip_id, conversation.status) == (lead.pk, chip.pk, "open")
    assert answer == {conversation.pk}
    closed.refresh_from_db()
    assert closed.status == ConversationStatus.CLOSED
    assert closed.last_inbound_at is None
    assert not closed.messages.exists()
    assert Lead.objects.count() == 1


@pytest.mark.django_db
def test_scheduled_followups_of_the_conversations_written_to_are_cancelled_and_no_others():
    chip = ChipFactory()
    conversation = ConversationFactory(lead=LeadFactory(phone="+5511900000001"), chip=chip)
    quiet = ConversationFactory(lead=LeadFactory(phone="+5511900000002"), chip=chip)
    due = timezone.now() + timedelta(days=1)
    planned = FollowUp.objects.create(conversation=conversation, due_at=due, reason="cadence")
    already_sent = FollowUp.objects.create(conversation=conversation, due_at=due, status=FollowUpStatus.SENT)
    elsewhere = FollowUp.objects.create(conversation=quiet, due_at=due, reason="cadence")
    message = inbound(chip, "+5511900000001")

    inbound_attach_many([message.pk])

    planned.refresh_from_db()
    already_sent.refresh_from_db()
    elsewhere.refresh_from_db()
    assert (planned.status, planned.reason) == (FollowUpStatus.CANCELLED, LEAD_WROTE)
    assert (already_sent.status, already_sent.reason) == (FollowUpStatus.SENT, "")
    assert (elsewhere.status, elsewhere.reason) == (FollowUpStatus.SCHEDULED, "cadence")


# --- gates ------------------------------------------------------------------------------------------


def assert_recorded_not_answered(message, answer):
    """Attached (for the timeline) and processed: no turn will answer it."""
    message = stored(message)
    assert message.conversation_id is not None
    assert message.conversation_id not in answer
    assert message.status == MessageStatus.PROCESSED
    assert message.processed_at is not None
    assert message.conversation.last_inbound_at is not None


def assert_waiting_for_its_turn(message, answer):
    message = stored(message)
    assert message.conversation_id in answer
    assert (message.status, message.processed_at) == (MessageStatus.RECEIVED, None)


@pytest.mark.django_db
@pytest.mark.parametrize("status", sorted(OUT_OF_SERVICE))
def test_a_message_to_a_chip_out_of_service_is_recorded_but_not_answered(status):
    out_of_service = ChipFactory(status=status)
    active = ChipFactory(status=ChipStatus.ACTIVE)
    gated = inbound(out_of_service, "+5511900000001")
    answered = inbound(active, "+5511900000001")

    answer = inbound_attach_many([gated.pk, answered.pk])

    assert_recorded_not_answered(gated, answer)
    assert_waiting_for_its_turn(answered, answer)
    assert stored(gated).conversation.chip_id == out_of_service.pk
    assert len(answer) == 1


@pytest.mark.django_db
def test_a_message_in_a_conversation_a_human_owns_is_recorded_but_not_answered():
    chip = ChipFactory()
    owned = ConversationFactory(lead=LeadFactory(phone="+5511900000001"), chip=chip, owner=Owner.HUMAN)
    planned = FollowUp.objects.create(conversation=owned, due_at=timezone.now() + timedelta(days=1))
    gated = inbound(chip, "+5511900000001")
    answered = inbound(chip, "+5511900000002")

    answer = inbound_attach_many([gated.pk, answered.pk])

    assert_recorded_not_answered(gated, answer)
    assert stored(gated).conversation_id == owned.pk
    assert_waiting_for_its_turn(answered, answer)
    planned.refresh_from_db()
    assert planned.status == FollowUpStatus.CANCELLED  # the lead wrote, whoever answers
    owned.refresh_from_db()
    assert owned.owner == Owner.HUMAN


@pytest.mark.django_db
def test_a_message_from_a_lead_who_opted_out_is_recorded_but_not_answered():
    chip = ChipFactory()
    opted_out = LeadFactory(phone="+5511900000001", opted_out_at=timezone.now() - timedelta(days=3))
    gated = inbound(chip, "+5511900000001", text="Oi")
    answered = inbound(chip, "+5511900000002")

    answer = inbound_attach_many([gated.pk, answered.pk])

    assert_recorded_not_answered(gated, answer)
    assert stored(gated).conversation.lead_id == opted_out.pk
    assert_waiting_for_its_turn(answered, answer)
    assert Lead.objects.count() == 2


# --- what takes the one-by-one path -----------------------------------------------------------------


@pytest.mark.django_db
def test_a_contact_with_lid_and_phone_goes_one_by_one_and_merges_the_two_records(one_by_one):
    chip = ChipFactory()
    by_phone = LeadFactory(phone="+5511900000001", push_name="Ana")
    by_lid = LeadFactory(phone=None, wa_lid="201234567890123", push_name="")
    first = ConversationFactory(lead=by_phone, chip=chip)
    ConversationFactory(lead=by_lid, chip=chip)
    linking = inbound(chip, "+5511900000001", lid="201234567890123", push_name="Ana")
    simple = inbound(chip, "+5511900000002")

    answer = inbound_attach_many([linking.pk, simple.pk])

    assert one_by_one == [linking.pk]
    merged = Lead.objects.get(wa_lid="201234567890123")
    assert merged == lead_resolve(contact={"phone": "+5511900000001", "lid": "201234567890123"})
    assert (merged.pk, merged.phone) == (by_phone.pk, "+5511900000001")
    assert Lead.objects.count() == 2  # the merged person and the new simple sender
    assert Conversation.objects.filter(lead=merged, chip=chip, status="open").get().pk == first.pk
    assert stored(linking).conversation_id == first.pk
    assert answer == {first.pk, stored(simple).conversation_id}


@pytest.mark.django_db
def test_a_lid_only_contact_whose_phone_a_lead_knows_goes_one_by_one_without_asking_the_gateway(
    one_by_one, monkeypatch
):
    def no_gateway(*args, **kwargs):
        pytest.fail("the lead already links the LID to a phone: no lookup is needed")

    monkeypatch.setattr(routing, "provider_for", no_gateway)
    chip = ChipFactory()
    lead = LeadFactory(phone="+5511900000001", wa_lid="201234567890123")
    message = inbound(chip, None, lid="201234567890123")

    answer = inbound_attach_many([message.pk])

    assert one_by_one == [message.pk]
    conversation = stored(message).conversation
    assert (conversation.lead_id, conversation.chip_id, conversation.status) == (lead.pk, chip.pk, "open")
    assert answer == {conversation.pk}
    assert Lead.objects.count() == 1


@pytest.mark.django_db
def test_a_bsuid_contact_goes_one_by_one(one_by_one):
    chip = ChipFactory()
    message = inbound(chip, "+5511900000001", bsuid="BR.1234567890")

    answer = inbound_attach_many([message.pk])

    assert one_by_one == [message.pk]
    lead = stored(message).conversation.lead
    assert (lead.phone, lead.bsuid) == ("+5511900000001", "BR.1234567890")
    assert answer == {stored(message).conversation_id}


@pytest.mark.django_db
def test_our_numbers_own_message_goes_one_by_one_and_hands_the_conversation_to_a_human(one_by_one):
    chip = ChipFactory()
    conversation = ConversationFactory(lead=LeadFactory(phone="+5511900000001"), chip=chip)
    from_phone = inbound(chip, "+5511900000001", direction=Direction.OUT, text="Oi Ana, aqui é o João")
    customer = inbound(chip, "+5511900000002")

    answer = inbound_attach_many([from_phone.pk, customer.pk])

    assert one_by_one == [from_phone.pk]
    assert answer == {stored(customer).conversation_id}  # nothing to answer for our own message
    message = stored(from_phone)
    assert message.conversation_id == conversation.pk
    assert message.processed_at is not None
    conversation.refresh_from_db()
    assert conversation.owner == Owner.HUMAN
    assert conversation.last_outbound_at is not None
    assert conversation.last_inbound_at is None


@pytest.mark.django_db
def test_an_attached_but_unanswered_message_goes_one_by_one(one_by_one):
    chip = ChipFactory()
    conversation = ConversationFactory(lead=LeadFactory(phone="+5511900000001"), chip=chip)
    message = inbound(chip, "+5511900000001")
    Message.objects.filter(pk=message.pk).update(conversation=conversation)

    answer = inbound_attach_many([message.pk])

    assert one_by_one == [message.pk]
    assert answer == {conversation.pk}
    assert Conversation.objects.count() == 1


# --- idempotence --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_batch_handed_over_twice_is_attached_once():
    chip = ChipFactory()
    messages = [inbound(chip, f"+551190000000{n % 3}", push_name=f"Pessoa {n % 3}") for n in range(6)]
    ids = [m.pk for m in messages]

    first = inbound_attach_many(ids)
    attached = dict(Message.objects.values_list("pk", "conversation_id"))
    leads = set(Lead.objects.values_list("pk", "phone", "push_name"))
    conversations = set(Conversation.objects.values_list("pk", "lead_id", "chip_id", "status"))

    second = inbound_attach_many(ids)

    assert second == first and len(first) == 3
    assert dict(Message.objects.values_list("pk", "conversation_id")) == attached
    assert set(Lead.objects.values_list("pk", "phone", "push_name")) == leads
    assert set(Conversation.objects.values_list("pk", "lead_id", "chip_id", "status")) == conversations


@pytest.mark.django_db
def test_processed_messages_are_ignored():
    chip = ChipFactory()
    message = inbound(chip, "+5511900000001")
    assert inbound_attach_many([message.pk])
    Message.objects.filter(pk=message.pk).update(processed_at=timezone.now(), status=MessageStatus.PROCESSED)
    conversation = stored(message).conversation
    conversation_updated = conversation.updated_at

    assert inbound_attach_many([message.pk]) == set()
    conversation.refresh_from_db()
    assert conversation.updated_at == conversation_updated  # not even its clock moved
    assert Conversation.objects.count() == Lead.objects.count() == 1


@pytest.mark.django_db
def test_a_processed_unattached_message_is_left_alone():
    chip = ChipFactory()
    message = inbound(chip, "+5511900000001")
    Message.objects.filter(pk=message.pk).update(processed_at=timezone.now(), status=MessageStatus.PROCESSED)

    assert inbound_attach_many([message.pk]) == set()
    assert stored(message).conversation_id is None
    assert not Lead.objects.exists()
    assert not Conversation.objects.exists()


@pytest.mark.django_db
def test_unknown_ids_and_an_empty_batch_attach_nothing():
    assert inbound_attach_many([]) == set()
    assert inbound_attach_many([987654321]) == set()
    assert not Lead.objects.exists()


# --- the same outcome as one by one -------------------------------------------------------------------


def scenario(chip, prefix):
    """One of each simple case on a chip, senders' phones under `prefix`; the messages in order."""
    LeadFactory(phone=f"{prefix}01", push_name="Antigo")
    ConversationFactory(lead=LeadFactory(phone=f"{prefix}02", push_name="Bruno"), chip=chip)
    closed = ConversationFactory(lead=LeadFactory(phone=f"{prefix}03"), chip=chip, status=ConversationStatus.CLOSED)
    owned = ConversationFactory(lead=LeadFactory(phone=f"{prefix}04"), chip=chip, owner=Owner.HUMAN)
    LeadFactory(phone=f"{prefix}05", opted_out_at=timezone.now())
    for conversation in (closed, owned):
        FollowUp.objects.create(conversation=conversation, due_at=timezone.now() + timedelta(days=1))
    senders = [("01", "Novo Nome"), ("02", "Bruno"), ("03", ""), ("04", "Dani"), ("05", "Eva"), ("06", "Fábio")]
    senders += [("06", "Fábio"), ("02", "Bruno"), ("07", "")]
    return [
        inbound(chip, f"{prefix}{suffix}", push_name=name, text=f"msg {n}") for n, (suffix, name) in enumerate(senders)
    ]


def shape(chip, prefix, messages, answer):
    """Everything the attachment decided, without ids: comparable across chips and phone ranges."""

    def who(lead):
        return lead.phone.removeprefix(prefix)

    rows = []
    for message in messages:
        message = stored(message)
        conversation = message.conversation
        rows.append(
            (
                message.text,
                who(conversation.lead),
                conversation.lead.push_name,
                conversation.status,
                conversation.owner,
                conversation.profile_id,
                conversation.last_inbound_at is not None,
                conversation.messages.count(),
                message.status,
                message.processed_at is not None,
                conversation.pk in answer,
            )
        )
    conversations = sorted(
        (who(c.lead), c.status, c.owner, c.last_inbound_at is not None, c.messages.count())
        for c in Conversation.objects.filter(chip=chip).select_related("lead")
    )
    leads = sorted((who(lead), lead.push_name) for lead in Lead.objects.filter(phone__startswith=prefix))
    followups = sorted(
        (who(f.conversation.lead), f.status, f.reason) for f in FollowUp.objects.filter(conversation__chip=chip)
    )
    return rows, conversations, leads, followups


@pytest.mark.django_db
def test_a_batch_ends_as_attaching_its_messages_one_by_one_would(one_by_one):
    batch_chip, single_chip = ChipFactory(), ChipFactory()
    batch = scenario(batch_chip, "+55119111111")
    singles = scenario(single_chip, "+55119222222")

    batch_answer = inbound_attach_many([m.pk for m in batch])
    single_answer = {inbound_attach(message_id=m.pk) for m in singles} - {None}

    assert one_by_one == []  # the batch did not fall back
    assert len(batch_answer) == len(single_answer) == 5
    batch_shape = shape(batch_chip, "+55119111111", batch, batch_answer)
    assert batch_shape == shape(single_chip, "+55119222222", singles, single_answer)
    _rows, conversations, leads, _followups = batch_shape
    assert len(leads) == 7 and len(conversations) == 8  # one open per sender, and the closed one


# --- cost ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_number_of_queries_does_not_grow_with_the_batch():
    chip = ChipFactory()
    small = [inbound(chip, f"+55119300000{n:02d}", push_name=f"P{n}") for n in range(5)]
    large = [inbound(chip, f"+55119400000{n:02d}", push_name=f"P{n}") for n in range(50)]

    with CaptureQueriesContext(connection) as small_queries:
        assert len(inbound_attach_many([m.pk for m in small])) == 5
    with CaptureQueriesContext(connection) as large_queries:
        assert len(inbound_attach_many([m.pk for m in large])) == 50

    assert len(large_queries) == len(small_queries)
    assert len(large_queries) < 20
    assert not Message.objects.filter(conversation__isnull=True).exists()
    assert Lead.objects.count() == Conversation.objects.count() == 55


# --- concurrency --------------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_batches_with_the_same_new_phone_share_one_lead_and_one_conversation():
    chip = ChipFactory()
    rounds = 5
    batches: list[list[list[int]]] = []
    for n in range(rounds):
        shared = f"+55119500000{n:02d}"
        batches.append(
            [
                [inbound(chip, shared, push_name="Ana").pk, inbound(chip, f"+55119600000{n:02d}").pk],
                [inbound(chip, f"+55119700000{n:02d}").pk, inbound(chip, shared, push_name="Ana").pk],
            ]
        )

    for n, pair in enumerate(batches):
        barrier = threading.Barrier(len(pair))
        answers: list[set[int]] = []
        errors: list[BaseException] = []
        lock = threading.Lock()

        def attach(ids, barrier=barrier, answers=answers, errors=errors, lock=lock):
            try:
                barrier.wait(JOIN_SECONDS)
                answer = inbound_attach_many(ids)
                with lock:
                    answers.append(answer)
            except BaseException as exc:  # reported below with the thread's own failure
                with lock:
                    errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=attach, args=(ids,)) for ids in pair]
        run_threads(threads, timeout=JOIN_SECONDS)

        assert errors == []
        lead = Lead.objects.get(phone=f"+55119500000{n:02d}")
        conversation = Conversation.objects.get(lead=lead, chip=chip)
        assert conversation.status == ConversationStatus.OPEN
        shared_ids = [pair[0][0], pair[1][1]]
        assert set(Message.objects.filter(pk__in=shared_ids).values_list("conversation_id", flat=True)) == {
            conversation.pk
        }
        assert all(conversation.pk in answer for answer in answers) and len(answers) == 2

    assert Lead.objects.count() == Conversation.objects.count() == 3 * rounds
    assert not Message.objects.filter(conversation__isnull=True).exists()
