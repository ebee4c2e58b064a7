"""Talking to the agent from a terminal: the inbound pipeline run in-process, bubbles printed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.utils import timezone

from chips.models import Chip
from chips.selectors import routed_chip
from conversations.inbound import webhook_events_record
from conversations.models import Conversation, Lead
from conversations.outbound import outbound_settle_locally
from conversations.relay import inbound_claim
from conversations.routing import inbound_attach
from conversations.turns import turn_run
from integrations.providers.base import Contact, InboundMessage


@dataclass
class TerminalCustomer:
    chip: Chip
    phone: str
    push_name: str = ""

    def say(self, text: str) -> list[str]:
        """Send one customer message; returns the agent's bubbles for it."""
        event = InboundMessage(
            provider_message_id="TERM" + uuid.uuid4().hex.upper(),
            contact=Contact(phone=self.phone, push_name=self.push_name),
            from_me=False,
            kind="text",
            text=text,
            timestamp=timezone.now(),
        )
        outcome = webhook_events_record(chip=routed_chip(self.chip), events=[event])
        inbound_claim(message_ids=outcome.queued)
        bubbles: list[str] = []
        for message_id in outcome.queued:
            conversation_id = inbound_attach(message_id=message_id)
            if conversation_id is not None:
                turn_run(conversation_id=conversation_id, debounce=False)
                bubbles += outbound_settle_locally(conversation_id=conversation_id)
        return bubbles

    def lead_state(self) -> dict:
        lead = Lead.objects.filter(phone=self.phone).first()
        conversation = (
            Conversation.objects.filter(lead=lead, chip=self.chip).order_by("-created_at").first() if lead else None
        )
        return {
            "fields": dict(lead.fields) if lead else {},
            "score": lead.score if lead else 0,
            "temperature": lead.temperature if lead else "cold",
            "stage": lead.stage if lead else "new",
            "owner": conversation.owner if conversation else "bot",
            "opted_out": bool(lead and lead.opted_out_at),
        }
