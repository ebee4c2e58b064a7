"""Leads, conversations and messages in the admin (an operations console, not a data editor)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Sum

from conversations.forms import AgentProfileForm
from conversations.models import (
    AgentProfile,
    AgentRun,
    Conversation,
    EarlyStatus,
    FollowUp,
    Lead,
    Message,
    ProfileChip,
)
from conversations.selectors import agent_cost_summary


class ProfileChipInline(admin.TabularInline):
    model = ProfileChip
    extra = 0
    autocomplete_fields = ["chip"]


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "company_name",
        "is_default",
        "hot_threshold",
        "warm_threshold",
        "debounce_seconds",
        "updated_at",
    ]
    list_filter = ["is_default"]
    search_fields = ["name", "company_name"]
    inlines = [ProfileChipInline]
    form = AgentProfileForm
    fieldsets = [
        (None, {"fields": ["name", "is_default", "company_name", "company_description", "offer_description"]}),
        ("How the agent speaks", {"fields": ["tone", "system_prompt_extra", "allowed_prices", "image_hint"]}),
        ("Qualification", {"fields": ["qualification_fields", "hot_threshold", "warm_threshold"]}),
        ("Business hours", {"fields": ["timezone", "business_hours", "holidays"]}),
        (
            "Pace",
            {
                "fields": [
                    "debounce_seconds",
                    "debounce_max_wait_seconds",
                    "max_bubbles",
                    "human_idle_minutes",
                    "followup_cadence_hours",
                ]
            },
        ),
        ("Model", {"fields": ["model"]}),
    ]


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "phone",
        "company",
        "score",
        "temperature",
        "stage",
        "agent_cost",
        "opted_out_at",
        "updated_at",
    ]
    list_filter = ["temperature", "stage", ("opted_out_at", admin.EmptyFieldListFilter)]
    search_fields = ["phone", "name", "push_name", "email", "company", "wa_lid", "bsuid"]
    readonly_fields = ["created_at", "updated_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_agent_cost=Sum("conversations__agent_runs__cost"))

    @admin.display(description="agent cost (USD)", ordering="_agent_cost")
    def agent_cost(self, lead: Lead):
        return lead._agent_cost or 0

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context=extra_context)
        changelist = getattr(response, "context_data", {}).get("cl") if hasattr(response, "context_data") else None
        if changelist is not None:
            # The figures follow the list's filters: "cost per qualified lead this week, hot leads only".
            response.context_data["agent_costs"] = agent_cost_summary(changelist.queryset)
        return response


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    can_delete = False
    fields = ["created_at", "direction", "origin", "kind", "text", "status", "provider_message_id"]
    readonly_fields = fields
    ordering = ["created_at", "id"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["lead", "chip", "owner", "status", "last_inbound_at", "last_outbound_at", "updated_at"]
    list_filter = ["owner", "status", "chip"]
    search_fields = ["lead__phone", "lead__name", "lead__push_name", "chip__phone"]
    list_select_related = ["lead", "chip"]
    # Ownership, status and the agent's memory change through the pipeline, not by hand.
    readonly_fields = [
        "lead",
        "chip",
        "owner",
        "status",
        "agent_state",
        "human_until",
        "turn_lease_until",
        "turn_lease_token",
        "created_at",
        "updated_at",
        "last_inbound_at",
        "last_outbound_at",
    ]
    inlines = [MessageInline]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["created_at", "direction", "origin", "kind", "short_text", "status", "chip", "conversation"]
    list_filter = ["direction", "origin", "kind", "status", "provider"]
    search_fields = ["provider_message_id", "text", "conversation__lead__phone"]
    list_select_related = ["chip", "conversation__lead"]
    readonly_fields = [f.name for f in Message._meta.fields]

    @admin.display(description="text")
    def short_text(self, message: Message) -> str:
        return (message.text or message.caption)[:80]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(AgentRun)
class AgentRunAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "conversation",
        "model",
        "prompt_tokens",
        "completion_tokens",
        "cost",
        "latency_ms",
        "fallback_used",
    ]
    list_filter = ["model", "fallback_used"]
    search_fields = ["conversation__lead__phone", "error"]
    list_select_related = ["conversation__lead"]
    readonly_fields = [f.name for f in AgentRun._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(FollowUp)
class FollowUpAdmin(admin.ModelAdmin):
    list_display = ["conversation", "due_at", "step", "status", "reason", "updated_at"]
    list_filter = ["status"]
    search_fields = ["conversation__lead__phone", "conversation__lead__name"]
    list_select_related = ["conversation__lead"]
    readonly_fields = ["conversation", "created_at", "updated_at"]


@admin.register(EarlyStatus)
class EarlyStatusAdmin(admin.ModelAdmin):
    list_display = ["provider_message_id", "chip", "status", "created_at"]
    search_fields = ["provider_message_id"]
    readonly_fields = [f.name for f in EarlyStatus._meta.fields]
