from django.contrib import admin

from simulator.models import SandboxDelivery


@admin.register(SandboxDelivery)
class SandboxDeliveryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "number", "text", "instance_name"]
    list_filter = ["kind"]
    search_fields = ["number", "text"]
