"""Leads, conversations, messages, agent profiles and agent runs."""

from decimal import Decimal

from django.db import models
from django.db.models import Q

from conversations.statuses import Direction, MessageKind, MessageOrigin, MessageStatus


class AgentProfile(models.Model):
    """The business the agent speaks for. One profile is the default; chips may be assigned others."""

    name = models.CharField(max_length=100, unique=True)
    is_default = models.BooleanField(default=False)
    company_name = models.CharField(max_length=200)
    company_description = models.TextField(blank=True)
    offer_description = models.TextField(blank=True)
    tone = models.CharField(max_length=200, blank=True)
    system_prompt_extra = models.TextField(blank=True, help_text="Extra instructions for the LLM.")
    qualification_fields = models.JSONField(
        default=list,
        blank=True,
        help_text='Asked in order: [{"key", "question", "type", "weight", "required"}, ...]',
    )
    hot_threshold = models.PositiveSmallIntegerField(default=70)
    warm_threshold = models.PositiveSmallIntegerField(default=40)
    timezone = models.CharField(max_length=64, default="America/Sao_Paulo")
    business_hours = models.JSONField(default=dict, blank=True)
    holidays = models.JSONField(
        default=list, blank=True, help_text='Dates without business hours: ["2026-12-25", "2027-01-01", ...]'
    )
    debounce_seconds = models.PositiveSmallIntegerField(
        default=2, help_text="Answer a burst once: wait this long after the customer's last message."
    )
    debounce_max_wait_seconds = models.PositiveSmallIntegerField(
        default=30, help_text="But never wait longer than this after the first unanswered message."
    )
    human_idle_minutes = models.PositiveIntegerField(default=30)
    followup_cadence_hours = models.JSONField(
        default=list, blank=True, help_text="Hours of silence before each follow-up, e.g. [24, 72]."
    )
    image_hint = models.CharField(
        max_length=300, blank=True, help_text="What customers' images usually are, e.g. \"read the bill's total\"."
    )
    allowed_prices = models.TextField(blank=True, help_text="Prices and discounts the agent may state, verbatim.")
    model = models.CharField(max_length=100, blank=True, help_text="Overrides AGENT_MODEL for this profile.")
    max_bubbles = models.PositiveSmallIntegerField(default=3, help_text="Most bubbles in one answer.")
    chips = models.ManyToManyField("chips.Chip", through="ProfileChip", blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="one_default_profile"),
        ]

    def __str__(self) -> str:
        return self.name


class ProfileChip(models.Model):
    """Which profile speaks on a chip; a chip without one uses the default profile."""

    profile = models.ForeignKey(AgentProfile, on_delete=models.CASCADE)
    chip = models.OneToOneField("chips.Chip", on_delete=models.CASCADE, related_name="+")

    def __str__(self) -> str:
        return f"{self.profile} on {self.chip_id}"


class Temperature(models.TextChoices):
    COLD = "cold"
    WARM = "warm"
    HOT = "hot"


class Stage(models.TextChoices):
    NEW = "new"
    ENGAGED = "engaged"
    QUALIFYING = "qualifying"
    QUALIFIED = "qualified"
    HANDED_OFF = "handed_off"
    WON = "won"
    LOST = "lost"


class Lead(models.Model):
    """A person. Found by phone, WhatsApp LID or Meta BSUID; any of them may be missing."""

    phone = models.CharField(max_length=20, null=True, blank=True, unique=True, help_text="E.164 with +.")
    wa_lid = models.CharField(max_length=64, null=True, blank=True, unique=True)
    bsuid = models.CharField(max_length=128, null=True, blank=True, unique=True)
    name = models.CharField(max_length=200, blank=True)
    push_name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    company = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=120, blank=True)
    fields = models.JSONField(default=dict, blank=True, help_text="Qualification answers by field key.")
    score = models.PositiveSmallIntegerField(default=0)
    temperature = models.CharField(max_length=8, choices=Temperature.choices, default=Temperature.COLD)
    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.NEW)
    legal_basis = models.CharField(max_length=64, blank=True, default="legitimate_interest")
    opted_out_at = models.DateTimeField(null=True, blank=True)
    chatwoot_contact_id = models.CharField(max_length=64, blank=True)
    crm_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return self.name or self.push_name or self.phone or self.wa_lid or self.bsuid or f"lead {self.pk}"


class Owner(models.TextChoices):
    BOT = "bot"
    HUMAN = "human"


class ConversationStatus(models.TextChoices):
    OPEN = "open"
    CLOSED = "closed"


class Conversation(models.Model):
    """A lead talking to one chip. At most one open conversation per (lead, chip)."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="conversations")
    chip = models.ForeignKey("chips.Chip", on_delete=models.PROTECT, related_name="conversations")
    profile = models.ForeignKey(AgentProfile, on_delete=models.PROTECT, related_name="conversations")
    owner = models.CharField(max_length=8, choices=Owner.choices, default=Owner.BOT)
    status = models.CharField(max_length=8, choices=ConversationStatus.choices, default=ConversationStatus.OPEN)
    agent_state = models.JSONField(default=dict, blank=True, help_text="The agent's memory between turns.")
    human_until = models.DateTimeField(null=True, blank=True)
    chatwoot_conversation_id = models.CharField(max_length=64, blank=True)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    last_outbound_at = models.DateTimeField(null=True, blank=True)
    # Turns of one conversation never overlap: a turn holds this lease while it runs. A worker
    # that dies mid-turn simply lets it expire, and the turn runs again.
    turn_lease_until = models.DateTimeField(null=True, blank=True)
    turn_lease_token = models.CharField(max_length=36, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["lead", "chip"], condition=Q(status="open"), name="one_open_conversation_per_lead_chip"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lead} ↔ {self.chip_id}"


class AgentRun(models.Model):
    """One agent turn, for cost and quality accounting."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="agent_runs")
    model = models.CharField(max_length=100)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal("0"))
    latency_ms = models.PositiveIntegerField(default=0)
    tool_calls = models.JSONField(default=list, blank=True)
    fallback_used = models.BooleanField(default=False)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.model})"


class Message(models.Model):
    """One WhatsApp message, either way. Outbound rows are the outbox; inbound rows are the inbox.

    An inbound row is `received` until the turn that answers it commits (`processed`). The relay
    stamps `handed_at` when it gives the row to the workers; the sweeper clears a stale stamp.
    """

    chip = models.ForeignKey("chips.Chip", on_delete=models.PROTECT, related_name="messages")
    # No index of its own: the (conversation, direction, status) index below serves lookups by
    # conversation, and every index is one more write for each of a message's several updates.
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages", null=True, blank=True, db_index=False
    )
    direction = models.CharField(max_length=3, choices=Direction.choices)
    origin = models.CharField(max_length=8, choices=MessageOrigin.choices, default=MessageOrigin.CONTACT)
    kind = models.CharField(max_length=16, choices=MessageKind.choices, default=MessageKind.TEXT)
    text = models.TextField(blank=True)
    caption = models.TextField(blank=True)
    media = models.JSONField(default=dict, blank=True, help_text="mime type, file name, provider media ref.")
    location = models.JSONField(default=dict, blank=True)
    provider = models.CharField(max_length=16)
    # NULL until the gateway names the message: NULLs never collide in the unique constraint.
    provider_message_id = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001
    reply_to_provider_id = models.CharField(max_length=128, blank=True)
    status = models.CharField(max_length=16, choices=MessageStatus.choices)
    status_rank = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)
    contact = models.JSONField(default=dict, blank=True, help_text="Sender identity as the payload gave it.")
    raw = models.JSONField(default=dict, blank=True)
    sequence = models.PositiveSmallIntegerField(default=0, help_text="Bubble order within one turn.")
    media_text = models.TextField(blank=True, help_text="What an audio said, an image showed, a document read.")
    purpose = models.CharField(
        max_length=24, blank=True, help_text="Why an outbound message exists when it is special (opt_out_ack)."
    )
    proactive = models.BooleanField(
        default=False, help_text="We started this exchange (a follow-up): daily caps and quiet hours apply."
    )
    agent_run = models.ForeignKey(AgentRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="messages")
    provider_timestamp = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    handed_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    read_receipt_at = models.DateTimeField(null=True, blank=True, help_text="When we marked it read.")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["chip", "provider_message_id"],
                condition=Q(provider_message_id__isnull=False),
                name="message_unique_provider_id_per_chip",
            ),
        ]
        indexes = [
            # What the relay polls: rows nobody has been given yet.
            models.Index(
                fields=["id"],
                condition=Q(handed_at__isnull=True, processed_at__isnull=True),
                name="message_awaiting_relay",
            ),
            models.Index(fields=["conversation", "direction", "status"]),
            models.Index(fields=["status", "updated_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.kind} {self.provider_message_id or self.pk}"


class EarlyStatus(models.Model):
    """A status update that arrived before the message it refers to was known (events are unordered).

    Applied, and deleted, when the message's provider id is recorded.
    """

    chip = models.ForeignKey("chips.Chip", on_delete=models.CASCADE, related_name="+")
    provider_message_id = models.CharField(max_length=128)
    status = models.CharField(max_length=16, choices=MessageStatus.choices)
    status_rank = models.PositiveSmallIntegerField()
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["chip", "provider_message_id"], name="early_status_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.provider_message_id}: {self.status}"


class FollowUpStatus(models.TextChoices):
    SCHEDULED = "scheduled"
    SENT = "sent"
    CANCELLED = "cancelled"  # the lead wrote back, opted out, or a human took over


class FollowUp(models.Model):
    """A proactive message due when a lead goes quiet (the agent's schedule_followup, or the cadence)."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="followups")
    due_at = models.DateTimeField()
    step = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=10, choices=FollowUpStatus.choices, default=FollowUpStatus.SCHEDULED)
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_at"]
        indexes = [models.Index(fields=["status", "due_at"])]

    def __str__(self) -> str:
        return f"follow-up {self.step} of {self.conversation_id} at {self.due_at:%Y-%m-%d %H:%M}"
