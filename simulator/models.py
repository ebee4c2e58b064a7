"""What the simulator's fake gateway was asked to do, for the simulator page to show."""

from django.db import models


class SandboxDelivery(models.Model):
    class Kind(models.TextChoices):
        TEXT = "text"
        PRESENCE = "presence"

    instance_name = models.CharField(max_length=128)
    number = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    text = models.TextField(blank=True)
    provider_message_id = models.CharField(max_length=64, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "sandbox deliveries"

    def __str__(self) -> str:
        return f"{self.kind} to {self.number}"
