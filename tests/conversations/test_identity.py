"""One person, one lead: found by phone, LID or BSUID, merged when a payload links two records."""

import pytest
from django.utils import timezone

from conversations.identity import lead_resolve
from conversations.models import AgentRun, Conversation, Lead, Message
from conversations.routing import inbound_attach
from conversations.turns import turn_run
from tests.conversations.helpers import receive
from tests.factories import ChipFactory, ConversationFactory, LeadFactory, OutboundMessageFactory
from tests.payloads import evolution_text

pytestmark = pytest.mark.django_db


def test_first_contact_creates_a_lead_and_later_ones_find_it():
    lead = lead_resolve(contact={"phone": "+5511900000001", "push_name": "Ana"})
    assert lead_resolve(contact={"phone": "+5511900000001"}) == lead
    assert Lead.objects.count() == 1


def test_a_new_identifier_completes_the_lead():
    lead = lead_resolve(contact={"lid": "201234567890123"})
    same = lead_resolve(contact={"lid": "201234567890123", "phone": "+5511900000001"})
    assert same == lead
    lead.refresh_from_db()
    assert (lead.phone, lead.wa_lid) == ("+5511900000001", "201234567890123")


def test_two_records_revealed_to_be_one_person_are_merged_with_their_history():
    chip = ChipFactory()
    by_phone = LeadFactory(phone="+5511900000001", name="Ana Souza", fields={"company": "Acme"})
    by_lid = LeadFactory(
        phone=None,
        wa_lid="201234567890123",
        email="ana@acme.com.br",
        opted_out_at=timezone.now(),
        fields={"budget": 5000},
    )
    first = ConversationFactory(lead=by_phone, chip=chip)
    second = ConversationFactory(lead=by_lid, chip=chip)
    OutboundMessageFactory(conversation=first, chip=chip, text="one")
    OutboundMessageFactory(conversation=second, chip=chip, text="two")
    AgentRun.objects.create(conversation=second, model="playbook")

    lead = lead_resolve(contact={"phone": "+5511900000001", "lid": "201234567890123"})

    assert Lead.objects.count() == 1
    assert (lead.phone, lead.wa_lid, lead.name, lead.email) == (
        "+5511900000001",
        "201234567890123",
        "Ana Souza",
        "ana@acme.com.br",
    )
    assert lead.fields == {"company": "Acme", "budget": 5000}
    assert lead.opted_out_at is not None  # an opt-out is never lost in a merge
    [conversation] = Conversation.objects.filter(lead=lead, status="open")
    assert sorted(conversation.messages.values_list("text", flat=True)) == ["one", "two"]
    assert conversation.agent_runs.count() == 1


def test_lid_only_sender_is_recorded_and_answered():
    chip = ChipFactory(instance_name="acme-01")
    from tests.conversations.helpers import record_body

    body = evolution_text(instance="acme-01", message_id="LID1")
    body["data"]["key"] = {"remoteJid": "201234567890123@lid", "fromMe": False, "id": "LID1", "addressingMode": "lid"}
    message = record_body(chip, body)
    conversation_id = inbound_attach(message_id=message.pk)
    assert turn_run(conversation_id=conversation_id).value == "answered"
    lead = Conversation.objects.get(pk=conversation_id).lead
    assert (lead.phone, lead.wa_lid) == (None, "201234567890123")


def test_messages_under_phone_then_lid_share_one_conversation():
    chip = ChipFactory(instance_name="acme-01")
    from tests.conversations.helpers import record_body

    first = receive(chip, message_id="P1", phone_digits="5511900000005")
    inbound_attach(message_id=first.pk)
    body = evolution_text(instance="acme-01", message_id="P2", phone_digits="5511900000005")
    body["data"]["key"]["remoteJid"] = "201234567890123@lid"  # Evolution 2.3.6 shape
    second = record_body(chip, body)
    inbound_attach(message_id=second.pk)

    assert Lead.objects.count() == 1
    assert Message.objects.get(pk=first.pk).conversation_id == Message.objects.get(pk=second.pk).conversation_id
