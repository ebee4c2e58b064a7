"""Evolution API v2 (Baileys) adapter.

- `provider`: EvolutionProvider: routing by instance, token/JWT authentication, the outbound calls
  and Evolution's error answers.
- `inbound`: the webhook event parsers and their tables (statuses, connection states, contacts).
"""

from integrations.providers.evolution.inbound import normalize_event_name
from integrations.providers.evolution.provider import EvolutionProvider

__all__ = ["EvolutionProvider", "normalize_event_name"]
