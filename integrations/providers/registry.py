"""Gateway kind → adapter class, imported lazily. Adding a provider is one line here."""

from __future__ import annotations

from functools import cache
from importlib import import_module

from integrations.providers.base import GatewayConfig, Provider

PROVIDERS: dict[str, str] = {
    "evolution": "integrations.providers.evolution.EvolutionProvider",
    "waha": "integrations.providers.waha.WahaProvider",
    "zapi": "integrations.providers.zapi.ZapiProvider",
    "whaticket": "integrations.providers.whaticket.WhaticketProvider",
    "cloudapi": "integrations.providers.cloudapi.CloudApiProvider",
    "sandbox": "integrations.providers.sandbox.SandboxProvider",
}


class UnknownProvider(KeyError):
    pass


@cache
def provider_class(kind: str) -> type[Provider]:
    try:
        dotted = PROVIDERS[kind]
    except KeyError:
        raise UnknownProvider(f"no adapter for gateway kind {kind!r}") from None
    module_name, class_name = dotted.rsplit(".", 1)
    return getattr(import_module(module_name), class_name)


def kinds_for_endpoint(endpoint: str) -> tuple[str, ...]:
    """Gateway kinds whose webhooks arrive at /webhooks/<endpoint>/."""
    return tuple(kind for kind in PROVIDERS if provider_class(kind).webhook_endpoint == endpoint)


def webhook_endpoints() -> tuple[str, ...]:
    return tuple(sorted({provider_class(kind).webhook_endpoint for kind in PROVIDERS}))


def provider_for(config: GatewayConfig, **kwargs) -> Provider:
    return provider_class(config.kind)(config, **kwargs)
