"""factory_boy factories for the domain model."""

from __future__ import annotations

import factory

from chips.lifecycle import ChipStatus
from chips.models import Chip, ChipSession, Gateway, GatewayKind
from conversations.models import Conversation, Lead, Message
from conversations.routing import profile_for_chip
from conversations.statuses import Direction, MessageOrigin, MessageStatus


class GatewayFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Gateway

    name = factory.Sequence(lambda n: f"evo-{n}")
    kind = GatewayKind.EVOLUTION
    base_url = "http://evolution.test:8080"
    api_key = "global-api-key"
    webhook_secret = factory.Sequence(lambda n: f"webhook-secret-{n:04d}-0123456789abcdefghijkl")


class ChipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Chip
        skip_postgeneration_save = True

    gateway = factory.SubFactory(GatewayFactory)
    phone = factory.Sequence(lambda n: f"+55119{70000000 + n:08d}")
    ddd = "11"
    instance_name = factory.Sequence(lambda n: f"acme-{n:02d}")
    status = ChipStatus.ACTIVE
    session = factory.RelatedFactory("tests.factories.ChipSessionFactory", factory_related_name="chip")


class ChipSessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChipSession

    chip = factory.SubFactory(ChipFactory, session=None)


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    phone = factory.Sequence(lambda n: f"+55119{10000000 + n:08d}")
    push_name = "Maria"


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation

    lead = factory.SubFactory(LeadFactory)
    chip = factory.SubFactory(ChipFactory)
    profile = factory.LazyAttribute(lambda o: profile_for_chip(o.chip.pk))


class OutboundMessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    conversation = factory.SubFactory(ConversationFactory)
    chip = factory.LazyAttribute(lambda o: o.conversation.chip)
    direction = Direction.OUT
    origin = MessageOrigin.AGENT
    provider = "evolution"
    status = MessageStatus.PENDING
    text = "Olá! Como posso ajudar?"
