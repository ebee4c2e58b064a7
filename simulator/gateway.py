"""A fake Evolution API inside Recado: the sandbox gateway's base URL points here.

It answers sendText and sendPresence as Evolution v2 does (checking the `apikey` header) and
records each call, so the simulator shows exactly what a real gateway would have been asked.
"""

from __future__ import annotations

import json
import time
from http import HTTPStatus

from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from chips.models import Chip, GatewayKind
from simulator.models import SandboxDelivery
from simulator.services import sandbox_record

# Evolution holds sendPresence open for `delay` ms; the fake does too, within reason.
MAX_PRESENCE_HOLD_MS = 2000


def _authorized_chip(request: HttpRequest, instance: str) -> Chip | JsonResponse:
    """The sandbox chip for `instance`, or the error Evolution would answer (404 unknown, 401 bad key)."""
    chip = (
        Chip.objects.select_related("gateway").filter(instance_name=instance, gateway__kind=GatewayKind.SANDBOX).first()
    )
    if chip is None:
        return _error(404, f'The "{instance}" instance does not exist')
    apikey = request.headers.get("apikey", "")
    if apikey and apikey in (chip.gateway.api_key, chip.instance_token):
        return chip
    return _error(401, "Unauthorized")


def _body(request: HttpRequest) -> dict | None:
    try:
        body = json.loads(request.body)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _error(status: int, message: str) -> JsonResponse:
    """Evolution's error body: {"status", "error", "response": {"message": [...]}}."""
    return JsonResponse(
        {"status": status, "error": HTTPStatus(status).phrase, "response": {"message": [message]}}, status=status
    )


@csrf_exempt
@require_POST
def send_text(request: HttpRequest, instance: str) -> JsonResponse:
    chip = _authorized_chip(request, instance)
    if isinstance(chip, JsonResponse):
        return chip
    body = _body(request)
    if body is None or not isinstance(body.get("number"), str) or not isinstance(body.get("text"), str):
        return _error(400, "number and text are required")
    delivery = sandbox_record(
        instance_name=instance, number=body["number"], kind=SandboxDelivery.Kind.TEXT, text=body["text"]
    )
    return JsonResponse(
        {
            "key": {
                "remoteJid": f"{body['number']}@s.whatsapp.net",
                "fromMe": True,
                "id": delivery.provider_message_id,
            },
            "message": {"conversation": body["text"]},
            "messageTimestamp": int(timezone.now().timestamp()),
            "status": "PENDING",
        },
        status=201,
    )


@csrf_exempt
@require_POST
def send_presence(request: HttpRequest, instance: str) -> JsonResponse:
    chip = _authorized_chip(request, instance)
    if isinstance(chip, JsonResponse):
        return chip
    body = _body(request)
    delay = body.get("delay") if body else None
    # bool is an int in Python; Evolution's validator wants a non-negative number.
    if body is None or not isinstance(body.get("number"), str) or type(delay) is not int or delay < 0:
        return _error(400, "number and a non-negative integer delay are required")
    sandbox_record(
        instance_name=instance, number=body["number"], kind=SandboxDelivery.Kind.PRESENCE, duration_ms=body["delay"]
    )
    time.sleep(min(body["delay"], MAX_PRESENCE_HOLD_MS) / 1000)
    return JsonResponse({"presence": body.get("presence", "composing")}, status=201)
