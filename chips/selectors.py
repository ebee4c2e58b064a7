"""Reads of the fleet with real logic in them."""

from __future__ import annotations

from dataclasses import dataclass

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
    return GatewayConfig(
        kind=gateway.kind,
        base_url=gateway.base_url,
        api_key=gateway.api_key or "",
        webhook_secret=gateway.webhook_secret or "",
        verify_token=gateway.verify_token or "",
    )


def chip_address(chip: Chip) -> ChipAddress:
    return ChipAddress(instance_name=chip.instance_name, instance_token=chip.instance_token or "", phone=chip.phone)


def routed_chip(chip: Chip) -> RoutedChip:
    return RoutedChip(
        chip_id=chip.pk, status=chip.status, gateway=gateway_config(chip.gateway), address=chip_address(chip)
    )


def chips_for_webhook(*, endpoint: str, route_key: str) -> list[RoutedChip]:
    """Chips a webhook at /webhooks/<endpoint>/ may be about (several gateways may reuse a name)."""
    chips = Chip.objects.select_related("gateway").filter(
        instance_name=route_key, gateway__kind__in=kinds_for_endpoint(endpoint), gateway__is_active=True
    )
    return [routed_chip(chip) for chip in chips]


def chip_for_send(chip_id: int) -> RoutedChip:
    return routed_chip(Chip.objects.select_related("gateway").get(pk=chip_id))
