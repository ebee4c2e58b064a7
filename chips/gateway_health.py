"""Whether each active gateway answers, for GET /api/health.

A gateway that can tell a chip's connection state is asked about one of its live chips, with its
credentials: that proves the URL, the key and the chip's instance at once. Any other gateway (a
send-only relay, or one with no live chip yet) is probed with a GET on its base URL, which shows
only that its server is up.

What to probe is read from the database first (`gateway_targets`); the probes themselves make
network calls only, so that they can run side by side in threads that never open a connection.
"""

from __future__ import annotations

from dataclasses import dataclass

from chips.health import CHECKED_STATUSES, state_readable
from chips.models import Chip, Gateway
from chips.selectors import chip_address, gateway_config
from integrations.health import PROBE_TIMEOUT_SECONDS, Probe, http_probe
from integrations.providers.base import ChipAddress, GatewayConfig, ProviderError
from integrations.providers.registry import provider_for


@dataclass(frozen=True)
class GatewayTarget:
    name: str
    kind: str
    config: GatewayConfig
    chip: ChipAddress | None  # a live chip the gateway can describe, if it has one


def gateway_targets() -> list[GatewayTarget]:
    targets = []
    for gateway in Gateway.objects.filter(is_active=True).order_by("name"):
        chip = None
        if state_readable(gateway):
            live = Chip.objects.filter(gateway=gateway, status__in=CHECKED_STATUSES).order_by("pk").first()
            chip = chip_address(live) if live else None
        targets.append(GatewayTarget(gateway.name, gateway.kind, gateway_config(gateway), chip))
    return targets


def gateway_probe(target: GatewayTarget) -> Probe:
    if not target.config.base_url:
        return Probe(configured=False)
    if target.chip is None:
        return http_probe(target.config.base_url)
    try:
        provider_for(target.config, timeout=PROBE_TIMEOUT_SECONDS).session_state(target.chip)
    except ProviderError as exc:
        # The status code only: a gateway's error text may repeat what we sent it.
        if exc.status_code is not None:
            return Probe(configured=True, reachable=False, error=f"HTTP {exc.status_code}")
        return Probe(configured=True, reachable=False, error="refused" if exc.permanent else "no answer")
    return Probe(configured=True, reachable=True)
