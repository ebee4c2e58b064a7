"""The simulator's chip is always linked: sandbox session calls answer "connected" without a request,
and its webhooks still read ban signals the way Evolution's do."""

import pytest
import respx

from integrations.providers.base import (
    ChipAddress,
    ConnectionUpdate,
    GatewayConfig,
    NotSupported,
    SessionInfo,
)
from integrations.providers.registry import provider_for
from integrations.providers.sandbox import SandboxProvider
from tests.payloads import load_fixture

BASE = "http://localhost:8000/simulator/gateway"
CHIP = ChipAddress(instance_name="sandbox", instance_token="sandbox-token", phone="+5511999990000")


@pytest.fixture
def provider():
    p = provider_for(GatewayConfig(kind="sandbox", base_url=BASE, api_key="k", webhook_secret="s"))
    yield p
    p.close()


def test_registry_gives_the_sandbox_adapter(provider):
    assert isinstance(provider, SandboxProvider)
    assert (SandboxProvider.sessions_managed, SandboxProvider.supports_pairing_code) == (True, False)


@pytest.mark.parametrize(
    "call",
    [
        lambda p: p.session_create(CHIP, webhook_url="http://localhost:8000/webhooks/evolution/"),
        lambda p: p.session_connect(CHIP),
        lambda p: p.session_state(CHIP),
    ],
    ids=["create", "connect", "state"],
)
def test_session_calls_answer_connected_without_http(provider, call):
    with respx.mock() as mock:
        assert call(provider) == SessionInfo(state="connected", phone="+5511999990000")
        assert not mock.calls


def test_logout_and_delete_have_nothing_to_undo(provider):
    with respx.mock() as mock:
        assert provider.session_logout(CHIP) is None
        assert provider.session_delete(CHIP) is None
        assert not mock.calls


def test_number_registration_is_not_supported(provider):
    with pytest.raises(NotSupported):
        provider.register_number(CHIP, "123456")


def test_ban_codes_in_its_evolution_webhooks_are_read(provider):
    [event] = provider.parse(load_fixture("evolution/connection.update__close_banned_403_v2.json"))
    assert isinstance(event, ConnectionUpdate)
    assert (event.state, event.banned) == ("logged_out", True)
