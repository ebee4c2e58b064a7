"""Message vocabularies and the forward-only order of outbound statuses."""

from django.db import models


class Direction(models.TextChoices):
    IN = "in"
    OUT = "out"


class MessageOrigin(models.TextChoices):
    CONTACT = "contact", "Customer"
    AGENT = "agent", "Agent"
    PHONE = "phone", "Human on the phone"
    OPERATOR = "operator", "Operator"


class MessageKind(models.TextChoices):
    TEXT = "text"
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"
    DOCUMENT = "document"
    LOCATION = "location"
    CONTACT = "contact"
    STICKER = "sticker"
    REACTION = "reaction"
    INTERACTIVE = "interactive", "Button/list reply"
    UNKNOWN = "unknown"


class MessageStatus(models.TextChoices):
    # inbound
    RECEIVED = "received"
    PROCESSED = "processed"
    # outbound
    PENDING = "pending"
    SENDING = "sending"
    UNKNOWN = "unknown", "Unknown (send outcome not confirmed)"
    SENT = "sent"
    FAILED = "failed"
    DELIVERED = "delivered"
    READ = "read"
    PLAYED = "played"


# Outbound statuses only move up this order. `failed` sits above `sent` (a gateway may accept a
# message and fail it later) but below `delivered` (a message seen delivered did not fail).
OUTBOUND_RANK: dict[str, int] = {
    MessageStatus.PENDING: 0,
    MessageStatus.SENDING: 10,
    MessageStatus.UNKNOWN: 15,
    MessageStatus.SENT: 20,
    MessageStatus.FAILED: 25,
    MessageStatus.DELIVERED: 30,
    MessageStatus.READ: 40,
    MessageStatus.PLAYED: 50,
}

# Statuses a gateway may report about a message (integrations' vocabulary maps onto these).
REPORTABLE = frozenset(
    {MessageStatus.SENT, MessageStatus.FAILED, MessageStatus.DELIVERED, MessageStatus.READ, MessageStatus.PLAYED}
)


# Message.purpose of the one confirmation an opted-out lead receives (the send gate lets it through).
OPT_OUT_ACK = "opt_out_ack"
