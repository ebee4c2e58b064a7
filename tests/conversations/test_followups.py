"""Follow-ups: planned after a bot turn, sent when due as proactive messages, cancelled when moot."""

from datetime import timedelta

import pytest
from django.utils import timezone

from chips.lifecycle import ChipStatus
from chips.models import Chip
from conversations.followups import followups_send_due
from conversations.models import Conversation, FollowUp, Message
from conversations.turns import turn_run
from tests.conversations.helpers import receive_and_attach
from tests.factories import ChipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def chip():
    return ChipFactory(instance_name="acme-01")


@pytest.fixture
def answered(chip):
    conversation_id = receive_and_attach(chip, message_id="F1", text="Oi, quero saber de energia solar")
    turn_run(conversation_id=conversation_id)
    return conversation_id


def test_a_bot_turn_plans_the_first_step_of_the_cadence(answered):
    followup = FollowUp.objects.get(conversation_id=answered)
    cadence = Conversation.objects.get(pk=answered).profile.followup_cadence_hours
    assert (followup.step, followup.status) == (1, "scheduled")
    expected = timezone.now() + timedelta(hours=cadence[0])
    assert abs((followup.due_at - expected).total_seconds()) < 60


def test_due_followups_become_proactive_messages_and_plan_the_next_step(answered):
    FollowUp.objects.filter(conversation_id=answered).update(due_at=timezone.now() - timedelta(minutes=1))

    assert followups_send_due() == 1
    assert followups_send_due() == 0  # sent once, whatever runs beat makes

    nudge = Message.objects.get(conversation_id=answered, purpose="followup")
    assert (nudge.proactive, nudge.status, nudge.direction) == (True, "pending", "out")
    assert "Maria" in nudge.text  # the push name: the lead did not give a name yet
    steps = dict(FollowUp.objects.filter(conversation_id=answered).values_list("step", "status"))
    assert steps == {1: "sent", 2: "scheduled"}


def test_the_last_step_offers_a_way_out_and_plans_nothing_more(answered):
    FollowUp.objects.filter(conversation_id=answered).update(step=2, due_at=timezone.now())

    followups_send_due()

    assert "SAIR" in Message.objects.get(conversation_id=answered, purpose="followup").text
    assert not FollowUp.objects.filter(status="scheduled").exists()


def test_a_followup_for_a_lead_who_opted_out_or_a_human_is_cancelled(answered):
    conversation = Conversation.objects.get(pk=answered)
    conversation.lead.opted_out_at = timezone.now()
    conversation.lead.save()
    FollowUp.objects.filter(conversation_id=answered).update(due_at=timezone.now())

    assert followups_send_due() == 0
    assert FollowUp.objects.get(conversation_id=answered).status == "cancelled"
    assert not Message.objects.filter(purpose="followup").exists()


def test_a_followup_moves_to_a_healthy_chip_when_the_leads_chip_cannot_carry_it(answered, chip):
    Chip.objects.filter(pk=chip.pk).update(status=ChipStatus.DEGRADED)
    healthy = ChipFactory(status=ChipStatus.READY)
    FollowUp.objects.filter(conversation_id=answered).update(due_at=timezone.now())

    assert followups_send_due() == 1

    nudge = Message.objects.get(purpose="followup")
    assert nudge.chip_id == healthy.pk
    assert nudge.conversation.lead_id == Conversation.objects.get(pk=answered).lead_id
    assert FollowUp.objects.get(status="scheduled").conversation_id == nudge.conversation_id


def test_a_followup_waits_when_no_chip_has_room(answered, chip):
    Chip.objects.filter(pk=chip.pk).update(status=ChipStatus.BANNED)
    FollowUp.objects.filter(conversation_id=answered).update(due_at=timezone.now())

    assert followups_send_due() == 0

    assert FollowUp.objects.get(conversation_id=answered).status == "scheduled"
    assert not Message.objects.filter(purpose="followup").exists()
