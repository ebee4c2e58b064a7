"""The simulator page: chat as a customer with the sandbox chip, through the production path."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse

from simulator.models import SandboxDelivery
from simulator.services import sandbox_chip


@staff_member_required
def simulator_page(request: HttpRequest) -> HttpResponse:
    chip = sandbox_chip()
    last = SandboxDelivery.objects.order_by("-pk").values_list("pk", flat=True).first()
    # The page shows deliveries after this one: what happens from now on, none replayed, none missed.
    context = {"chip": chip, "webhook_url": reverse("webhook-evolution"), "last_delivery_id": last or 0}
    if chip is not None:
        # The page signs its webhooks like a real Evolution server would, with the sandbox token.
        context["webhook_token"] = chip.gateway.webhook_secret
    return render(request, "simulator/index.html", context)


@staff_member_required
def feed(request: HttpRequest) -> JsonResponse:
    """What the fake gateway was asked to send to `number` after delivery id `after`."""
    try:
        after = int(request.GET.get("after", "0"))
    except ValueError:
        return JsonResponse({"error": "'after' must be an integer"}, status=400)
    number = request.GET.get("number", "").lstrip("+")
    deliveries = SandboxDelivery.objects.filter(pk__gt=after)
    if number:
        deliveries = deliveries.filter(number=number)
    return JsonResponse(
        {
            "deliveries": [
                {
                    "id": d.pk,
                    "kind": d.kind,
                    "text": d.text,
                    "duration_ms": d.duration_ms,
                    "at": d.created_at.isoformat(),
                }
                for d in deliveries[:200]
            ]
        }
    )
