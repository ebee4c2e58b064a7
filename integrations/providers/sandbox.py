"""The simulator's gateway: Evolution's wire format, served by the fake gateway inside Recado.

Same webhook endpoint, same authentication and same send calls as a real Evolution server, so the
simulator exercises the production path end to end.
"""

from integrations.providers.evolution import EvolutionProvider


class SandboxProvider(EvolutionProvider):
    kind = "sandbox"
    webhook_endpoint = "evolution"
