"""Reads of the fleet with real logic in them."""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings

from chips.lifecycle import OUT_OF_SERVICE
from chips.models import Chip, Gateway
from integrations.providers.base import ChipAddress, GatewayConfig
from integrations.providers.registry import kinds_for_endpoint


@dataclass(frozen=True)
class RoutedChip:
    """A chip with what an adapter needs to talk about it."""

    chip_id: int
    status: str
    gateway: GatewayConfig
    address: ChipAddress

    @property
    def in_service(self) -> bool:
        return self.status not in OUT_OF_SERVICE


def gateway_config(gateway: Gateway) -> GatewayConfig:
    webhook_secret = gateway.webhook_secret or ""
    if gateway.kind == "cloudapi" and not webhook_secret:
        webhook_secret = settings.CLOUDAPI_APP_SECRET  # one Meta app for every number is the common case
    return GatewayConfig(
        kind=gateway.kind,
        base_url=gateway.base_url,
        api_key=gateway.api_key or "",
        webhook_secret=webhook_secret,
        verify_token=gateway.verify_token or "",
    )


def chip_address(chip: Chip) -> ChipAddress:
    return ChipAddress(instance_name=chip.instance_name, instance_token=chip.instance_token or "", phone=chip.phone)


def routed_chip(chip: Chip) -> RoutedChip:
    return RoutedChip(
        chip_id=chip.pk, status=chip.status, gateway=gateway_config(chip.gateway), address=chip_address(chip)
    )


# Webhook routing is read on every delivery and changes rarely: each web process keeps the answer
# (with decrypted secrets) for a few seconds. A changed secret or a new chip applies after that.
_routes: dict[tuple[str, str | None], tuple[float, list[RoutedChip]]] = {}


def chips_for_webhook(*, endpoint: str, route_key: str | None) -> list[RoutedChip]:
    """Chips a webhook at /webhooks/<endpoint>/ may be about (several gateways may reuse a name).

    Without a route key (a relay that names no connection) every chip of the endpoint's kinds is a
    candidate, one per gateway: the credentials tell the gateway, and its only chip is the one.
    """
    ttl = settings.WEBHOOK_ROUTE_CACHE_SECONDS
    key = (endpoint, route_key)
    cached = _routes.get(key)
    now = time.monotonic()
    if cached is not None and cached[0] > now:
        return cached[1]
    chips = _chips_for_webhook(endpoint=endpoint, route_key=route_key)
    if ttl > 0:
        if len(_routes) > 10_000:  # a flood of unknown instance names must not grow memory forever
            _routes.clear()
        _routes[key] = (now + ttl, chips)
    return chips


def forget_routes() -> None:
    _routes.clear()


def _chips_for_webhook(*, endpoint: str, route_key: str | None) -> list[RoutedChip]:
    chips = Chip.objects.select_related("gateway").filter(
        gateway__kind__in=kinds_for_endpoint(endpoint), gateway__is_active=True
    )
    if route_key is not None:
        return [routed_chip(chip) for chip in chips.filter(instance_name=route_key)]
    first_per_gateway = {}
    for chip in chips.order_by("gateway_id", "pk"):
        first_per_gateway.setdefault(chip.gateway_id, chip)
    return [routed_chip(chip) for chip in first_per_gateway.values()]


def gateway_chip(chip: RoutedChip, route_key: str) -> RoutedChip | None:
    """Another chip of the same gateway, by its instance name (a body may concern several)."""
    sibling = (
        Chip.objects.select_related("gateway")
        .filter(gateway_id=Chip.objects.filter(pk=chip.chip_id).values("gateway_id")[:1], instance_name=route_key)
        .first()
    )
    return routed_chip(sibling) if sibling else None


def handshake_tokens(*, kinds: tuple[str, ...]) -> list[str]:
    """Verify tokens a GET handshake may present: each gateway's own, then the global default."""
    tokens = [gateway.verify_token for gateway in Gateway.objects.filter(kind__in=kinds, is_active=True)]
    tokens.append(settings.CLOUDAPI_VERIFY_TOKEN)
    return [token for token in tokens if token]


def chip_for_send(chip_id: int) -> RoutedChip:
    return routed_chip(Chip.objects.select_related("gateway").get(pk=chip_id))
