"""The fleet in the admin: status is read-only and changes only through the transition service."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from chips.lifecycle import ChipStatus
from chips.models import Chip, ChipAlert, ChipSession, ChipTransition, Gateway, ProvisioningJob, SmsCode
from chips.services import TransitionNotAllowed, alert_resolve, chip_transition


class GatewayForm(forms.ModelForm):
    """Secrets are write-only: the form never shows stored values; a blank field keeps the old one."""

    SECRETS = ("api_key", "webhook_secret", "verify_token")
    base_url = forms.URLField(max_length=500, assume_scheme="https")

    class Meta:
        model = Gateway
        fields = ["name", "kind", "base_url", "is_active", "api_key", "webhook_secret", "verify_token"]
        widgets = {
            name: forms.PasswordInput(render_value=False) for name in ("api_key", "webhook_secret", "verify_token")
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.SECRETS:
            self.fields[name].required = False
            if self.instance.pk and getattr(self.instance, name):
                self.fields[name].help_text = "Set. Leave blank to keep the current value."

    def clean(self):
        cleaned = super().clean()
        for name in self.SECRETS:
            if not cleaned.get(name) and self.instance.pk:
                cleaned[name] = getattr(self.instance, name)
        if not cleaned.get("webhook_secret"):
            self.add_error("webhook_secret", "A webhook secret is required: without one no webhook is accepted.")
        return cleaned


@admin.register(Gateway)
class GatewayAdmin(admin.ModelAdmin):
    form = GatewayForm
    list_display = ["name", "kind", "base_url", "is_active", "chip_count", "created_at"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "base_url"]
    readonly_fields = ["created_at"]

    @admin.display(description="chips")
    def chip_count(self, gateway: Gateway) -> int:
        return gateway.chips.count()


class ChipTransitionInline(admin.TabularInline):
    model = ChipTransition
    extra = 0
    can_delete = False
    readonly_fields = ["created_at", "from_status", "to_status", "reason", "triggered_by"]
    fields = readonly_fields
    ordering = ["-created_at", "-id"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class SmsCodeInline(admin.TabularInline):
    """SMS the number received (read-only); the connect screen is where an operator acts on them."""

    model = SmsCode
    extra = 0
    can_delete = False
    readonly_fields = ["received_at", "code", "text", "origin", "source", "used_at"]
    fields = readonly_fields
    ordering = ["-received_at", "-id"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


def _transition_action(to_status: str):
    def action(modeladmin, request, queryset):
        moved = 0
        for chip in queryset:
            try:
                if chip_transition(
                    chip_id=chip.pk, to_status=to_status, reason="admin action", triggered_by=f"user:{request.user}"
                ):
                    moved += 1
            except TransitionNotAllowed as exc:
                modeladmin.message_user(request, str(exc), level=messages.WARNING)
        if moved:
            modeladmin.message_user(request, f"{moved} chip(s) moved to {to_status}.", level=messages.SUCCESS)

    action.__name__ = f"mark_{to_status}"
    action.short_description = f"Move selected chips to “{to_status}”"
    return action


@admin.register(Chip)
class ChipAdmin(admin.ModelAdmin):
    list_display = ["phone", "instance_name", "gateway", "status", "session_state", "status_changed_at", "created_at"]
    list_filter = ["status", "gateway__kind", "gateway", "ddd"]
    search_fields = ["phone", "instance_name", "salvy_id"]
    list_select_related = ["gateway", "session"]
    readonly_fields = ["status", "status_changed_at", "created_at", "updated_at"]
    exclude = ["instance_token"]
    inlines = [ChipTransitionInline, SmsCodeInline]
    actions = [_transition_action(status) for status in ChipStatus.values]

    @admin.display(description="session")
    def session_state(self, chip: Chip) -> str:
        session = getattr(chip, "session", None)
        return session.state if session else "—"


@admin.register(ChipSession)
class ChipSessionAdmin(admin.ModelAdmin):
    list_display = [
        "chip",
        "state",
        "pairing_code",
        "qr_updated_at",
        "last_connected_at",
        "last_disconnected_at",
        "disconnect_reason_code",
    ]
    list_filter = ["state"]
    search_fields = ["chip__phone", "chip__instance_name"]
    list_select_related = ["chip"]
    readonly_fields = [f.name for f in ChipSession._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(ChipTransition)
class ChipTransitionAdmin(admin.ModelAdmin):
    list_display = ["chip", "from_status", "to_status", "reason", "triggered_by", "created_at"]
    list_filter = ["to_status", "from_status"]
    search_fields = ["chip__phone", "reason", "triggered_by"]
    list_select_related = ["chip"]
    readonly_fields = ["chip", "from_status", "to_status", "reason", "triggered_by", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ChipAlert)
class ChipAlertAdmin(admin.ModelAdmin):
    list_display = ["created_at", "severity", "kind", "chip", "message", "resolved_at"]
    list_filter = ["severity", "kind", ("resolved_at", admin.EmptyFieldListFilter)]
    search_fields = ["message", "kind", "chip__phone"]
    list_select_related = ["chip"]
    readonly_fields = ["chip", "severity", "kind", "message", "details", "created_at", "resolved_at"]
    actions = ["resolve"]

    @admin.action(description="Resolve selected alerts")
    def resolve(self, request, queryset):
        for alert in queryset.filter(resolved_at__isnull=True):
            alert_resolve(alert=alert)
        self.message_user(request, f"Resolved at {timezone.now():%H:%M}.", level=messages.SUCCESS)

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(ProvisioningJob)
class ProvisioningJobAdmin(admin.ModelAdmin):
    """Jobs are created by the provisioning screen and written by the task: read-only here."""

    list_display = ["created_at", "ddd", "status", "phone", "gateway", "requested_by", "progress"]
    list_filter = ["status", "ddd"]
    search_fields = ["phone", "salvy_account_id", "requested_by"]
    list_select_related = ["gateway"]
    readonly_fields = [f.name for f in ProvisioningJob._meta.fields]

    @admin.display(description="progress")
    def progress(self, job: ProvisioningJob) -> str:
        return format_html('<a href="{}">steps</a>', reverse("chips_admin:provisioning-progress", args=[job.pk]))

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
