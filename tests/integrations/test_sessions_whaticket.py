"""Whaticket links its numbers in its own UI: every session call is NotSupported and calls nothing."""

import pytest
import respx

from integrations.providers.base import ChipAddress, GatewayConfig, NotSupported
from integrations.providers.whaticket import WhaticketProvider

BASE = "https://whaticket.test"
CHIP = ChipAddress(instance_name="3", instance_token="connection-token")


@pytest.fixture
def provider():
    p = WhaticketProvider(GatewayConfig(kind="whaticket", base_url=BASE, api_key="api-token", webhook_secret="s"))
    yield p
    p.close()


def test_flags():
    assert (WhaticketProvider.sessions_managed, WhaticketProvider.supports_pairing_code) == (False, False)


@pytest.mark.parametrize(
    "call",
    [
        lambda p: p.session_create(CHIP, webhook_url="https://recado.example/webhooks/whaticket/"),
        lambda p: p.session_connect(CHIP),
        lambda p: p.session_connect(CHIP, pairing_phone="+5511900000010"),
        lambda p: p.session_state(CHIP),
        lambda p: p.session_logout(CHIP),
        lambda p: p.session_delete(CHIP),
        lambda p: p.request_verification_code(CHIP),
        lambda p: p.submit_verification_code(CHIP, "123456"),
        lambda p: p.register_number(CHIP, "123456"),
    ],
    ids=["create", "connect", "pairing", "state", "logout", "delete", "request_code", "verify_code", "register"],
)
def test_every_session_call_is_not_supported(provider, call):
    with respx.mock() as mock:
        with pytest.raises(NotSupported) as caught:
            call(provider)
        assert not mock.calls
    assert caught.value.permanent is True
    assert str(caught.value).startswith("whaticket cannot")
