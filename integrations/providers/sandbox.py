"""The simulator's gateway: Evolution's wire format, served by the fake gateway inside Recado.

Same webhook endpoint, same authentication and same send calls as a real Evolution server, so the
simulator exercises the production path end to end.

Sessions: the fake gateway (`simulator/gateway.py`) serves only sendText and sendPresence and keeps no
session: its chip is linked the moment `setup_sandbox` creates it. So the session calls answer
"connected" without a request, and logging out or deleting has nothing to undo.
"""

from collections.abc import Mapping

from integrations.providers.base import ChipAddress, SessionInfo
from integrations.providers.evolution import EvolutionProvider


class SandboxProvider(EvolutionProvider):
    kind = "sandbox"
    webhook_endpoint = "evolution"
    supports_pairing_code = False

    def session_create(
        self, chip: ChipAddress, *, webhook_url: str, webhook_headers: Mapping[str, str] | None = None
    ) -> SessionInfo:
        return self._always_connected(chip)

    def session_connect(self, chip: ChipAddress, *, pairing_phone: str = "") -> SessionInfo:
        return self._always_connected(chip)

    def session_state(self, chip: ChipAddress) -> SessionInfo:
        return self._always_connected(chip)

    def session_logout(self, chip: ChipAddress) -> None:
        """Nothing to unlink: the simulator's number is not a WhatsApp session."""

    def session_delete(self, chip: ChipAddress) -> None:
        """Nothing to remove: the fake gateway stores no instance."""

    @staticmethod
    def _always_connected(chip: ChipAddress) -> SessionInfo:
        return SessionInfo(state="connected", phone=chip.phone)
