"""The sandbox gateway and chip that the simulator talks through."""

from __future__ import annotations

import secrets

from django.db import transaction

from chips.connection import connection_event_apply
from chips.models import Chip, Gateway, GatewayKind, SessionState
from chips.services import chip_register, gateway_create, gateway_update_base_url
from integrations.providers.base import ConnectionUpdate
from simulator.models import SandboxDelivery

SANDBOX_GATEWAY = "sandbox"
SANDBOX_INSTANCE = "sandbox"
SANDBOX_PHONE = "+5511999990000"


def sandbox_setup(*, base_url: str) -> Chip:
    """Create (or re-point) the sandbox gateway at `base_url` and its one chip."""
    with transaction.atomic():
        gateway = Gateway.objects.filter(name=SANDBOX_GATEWAY).first()
        if gateway is None:
            gateway = gateway_create(
                kind=GatewayKind.SANDBOX,
                name=SANDBOX_GATEWAY,
                base_url=base_url,
                api_key=secrets.token_urlsafe(24),
                webhook_secret=secrets.token_urlsafe(24),
            )
        elif gateway.base_url != base_url.rstrip("/"):
            gateway_update_base_url(gateway=gateway, base_url=base_url)
        chip = Chip.objects.filter(gateway=gateway, instance_name=SANDBOX_INSTANCE).first()
        if chip is None:
            chip = chip_register(
                gateway=gateway, instance_name=SANDBOX_INSTANCE, phone=SANDBOX_PHONE, triggered_by="sandbox_setup"
            )
            # The simulator's number is always linked: it starts connected (warming), as a scanned chip would.
            connection_event_apply(
                chip_id=chip.pk, update=ConnectionUpdate(state=SessionState.CONNECTED), triggered_by="sandbox_setup"
            )
            chip.refresh_from_db()
    return chip


def sandbox_chip() -> Chip | None:
    return Chip.objects.select_related("gateway").filter(gateway__kind=GatewayKind.SANDBOX).order_by("pk").first()


def sandbox_record(
    *, instance_name: str, number: str, kind: str, text: str = "", duration_ms: int = 0
) -> SandboxDelivery:
    return SandboxDelivery.objects.create(
        instance_name=instance_name,
        number=number,
        kind=kind,
        text=text,
        duration_ms=duration_ms,
        provider_message_id=("SIM" + secrets.token_hex(14).upper()) if kind == SandboxDelivery.Kind.TEXT else "",
    )
