"""The fleet: gateways, chips (WhatsApp numbers), their sessions, lifecycle audit and alerts."""

from django.db import models
from django.db.models import Q

from chips.fields import EncryptedTextField
from chips.lifecycle import ChipStatus


class GatewayKind(models.TextChoices):
    EVOLUTION = "evolution", "Evolution API v2"
    WAHA = "waha", "WAHA"
    ZAPI = "zapi", "Z-API"
    WHATICKET = "whaticket", "Whaticket relay"
    CLOUDAPI = "cloudapi", "Meta Cloud API"
    SANDBOX = "sandbox", "Sandbox (simulator)"


class Gateway(models.Model):
    """A provider account or server that chips connect through. Secrets are encrypted at rest."""

    name = models.SlugField(max_length=64, unique=True)
    kind = models.CharField(max_length=16, choices=GatewayKind.choices)
    base_url = models.URLField(max_length=500)
    api_key = EncryptedTextField(blank=True, help_text="Credential for calls to the gateway.")
    webhook_secret = EncryptedTextField(blank=True, help_text="Authenticates the gateway's webhooks.")
    verify_token = EncryptedTextField(blank=True, help_text="Cloud API webhook handshake token.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class Chip(models.Model):
    """A WhatsApp number on a gateway. `status` changes only through chips.services.chip_transition."""

    phone = models.CharField(max_length=20, unique=True, help_text="E.164, with the leading +.")
    ddd = models.CharField(max_length=2, blank=True, help_text="Brazilian area code.")
    gateway = models.ForeignKey(Gateway, on_delete=models.PROTECT, related_name="chips")
    instance_name = models.CharField(
        max_length=128, help_text="The gateway's own id for this number (Evolution instance, WAHA session...)."
    )
    instance_token = EncryptedTextField(blank=True, help_text="Per-instance token where the gateway has one.")
    status = models.CharField(max_length=16, choices=ChipStatus.choices, default=ChipStatus.PROVISIONED)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    salvy_id = models.CharField(max_length=64, blank=True)
    salvy_status = models.CharField(max_length=32, blank=True)
    warmup_started_at = models.DateTimeField(null=True, blank=True)
    daily_cap = models.PositiveIntegerField(null=True, blank=True, help_text="Overrides the warm-up plan.")
    next_send_at = models.DateTimeField(
        null=True, blank=True, help_text="Pacing: the earliest moment this chip may send its next message."
    )
    cancel_on_ban = models.BooleanField(
        default=False, help_text="Release the number at Salvy (reason whatsapp-ban) when WhatsApp bans it."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["phone"]
        constraints = [
            models.UniqueConstraint(fields=["gateway", "instance_name"], name="chip_unique_instance_per_gateway"),
        ]
        indexes = [models.Index(fields=["instance_name"])]

    def __str__(self) -> str:
        return f"{self.phone} [{self.instance_name}]"


class ChipTransition(models.Model):
    """Audit row of one status change."""

    chip = models.ForeignKey(Chip, on_delete=models.CASCADE, related_name="transitions")
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16)
    reason = models.CharField(max_length=255, blank=True)
    triggered_by = models.CharField(max_length=128, blank=True, help_text="user:<name>, webhook, task, command")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.chip_id}: {self.from_status or '∅'} → {self.to_status}"


class SessionState(models.TextChoices):
    CREATED = "created"
    QR = "qr"
    PAIRING = "pairing"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    LOGGED_OUT = "logged_out"


class ChipSession(models.Model):
    """Connection state of a chip on its gateway, as the gateway last reported it."""

    chip = models.OneToOneField(Chip, on_delete=models.CASCADE, related_name="session")
    state = models.CharField(max_length=16, choices=SessionState.choices, default=SessionState.CREATED)
    qr_code = models.TextField(blank=True, help_text="The latest QR payload (what the QR encodes).")
    qr_image = models.TextField(blank=True, help_text="A data: URI, when the gateway gives only a picture.")
    qr_updated_at = models.DateTimeField(null=True, blank=True)
    qr_expires_at = models.DateTimeField(null=True, blank=True)
    pairing_code = models.CharField(max_length=16, blank=True)
    last_connected_at = models.DateTimeField(null=True, blank=True)
    last_disconnected_at = models.DateTimeField(null=True, blank=True)
    disconnect_reason_code = models.IntegerField(null=True, blank=True)
    detail = models.CharField(max_length=255, blank=True, help_text="The gateway's own words on the state.")
    checked_at = models.DateTimeField(null=True, blank=True, help_text="Last time the health check asked the gateway.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.chip} {self.state}"


class AlertSeverity(models.TextChoices):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class ChipAlert(models.Model):
    """A problem an operator should look at."""

    chip = models.ForeignKey(Chip, on_delete=models.CASCADE, related_name="alerts", null=True, blank=True)
    severity = models.CharField(max_length=16, choices=AlertSeverity.choices, default=AlertSeverity.WARNING)
    kind = models.CharField(max_length=64)
    message = models.CharField(max_length=500)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["resolved_at"], condition=Q(resolved_at__isnull=True), name="alert_open")]

    def __str__(self) -> str:
        return f"[{self.severity}] {self.message}"


class SmsSource(models.TextChoices):
    WEBHOOK = "webhook"
    POLL = "poll"


class SmsCode(models.Model):
    """An SMS received by one of our numbers at Salvy; WhatsApp codes are what operators need from it.

    Every SMS is kept (spam included) for audit; `code` is empty when none was found.
    """

    chip = models.ForeignKey(Chip, on_delete=models.SET_NULL, related_name="sms_codes", null=True, blank=True)
    salvy_sms_id = models.CharField(max_length=64, unique=True, help_text="Salvy's id: webhook and poll agree.")
    salvy_account_id = models.CharField(max_length=64, blank=True)
    origin = models.CharField(max_length=32, blank=True)
    destination = models.CharField(max_length=20, blank=True)
    text = models.TextField(blank=True)
    code = models.CharField(max_length=16, blank=True)
    source = models.CharField(max_length=8, choices=SmsSource.choices, default=SmsSource.WEBHOOK)
    received_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True, help_text="When the code was submitted or marked used.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = "SMS code"

    def __str__(self) -> str:
        return f"{self.destination}: {self.code or '(no code)'}"


class SalvyDelivery(models.Model):
    """One Svix delivery from Salvy, kept by its `svix-id` so a redelivery is recognised and ignored."""

    svix_id = models.CharField(max_length=100, unique=True)
    event_type = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.event_type} {self.svix_id}"


class ProvisioningStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ProvisioningJob(models.Model):
    """One request to buy a number and set it up; the provisioning screen follows its steps."""

    ddd = models.CharField(max_length=2)
    name = models.CharField(max_length=100, blank=True)
    gateway = models.ForeignKey(Gateway, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    status = models.CharField(max_length=16, choices=ProvisioningStatus.choices, default=ProvisioningStatus.QUEUED)
    steps = models.JSONField(default=list, blank=True, help_text="[{at, step, detail}] in order.")
    salvy_account_id = models.CharField(max_length=64, blank=True)
    phone = models.CharField(max_length=20, blank=True)
    chip = models.ForeignKey(Chip, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    error = models.CharField(max_length=500, blank=True)
    requested_by = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"DDD {self.ddd} {self.status}"
