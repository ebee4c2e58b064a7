"""The same behaviours, asserted against every registered adapter.

A provider is done when it passes: every fixture it documents is accepted when signed as the
provider signs, refused unsigned, and its send call maps success, transient and permanent
failures the same way as every other provider's.
"""

from __future__ import annotations

import importlib
import json

import httpx
import pytest
import respx

from chips.selectors import routed_chip
from conversations.models import Lead, Message
from integrations.providers.base import Contact, ProviderError
from integrations.providers.registry import PROVIDERS, provider_class, provider_for
from tests.factories import ChipFactory
from tests.payloads import load_fixture

KINDS = [kind for kind in PROVIDERS if kind != "sandbox"]
SECRET = "contract-webhook-secret-0123456789abcdef"


def spec_for(kind):
    try:
        return importlib.import_module(f"tests.contract.{kind}").SPEC
    except ModuleNotFoundError:
        pytest.fail(f"provider {kind!r} has no contract spec in tests/contract/{kind}.py")


def fixture_cases():
    for kind in KINDS:
        try:
            spec = importlib.import_module(f"tests.contract.{kind}").SPEC
        except ModuleNotFoundError:
            yield pytest.param(kind, None, id=f"{kind}-missing-spec")
            continue
        for name in spec.fixtures:
            yield pytest.param(kind, name, id=name)


def chip_for(spec, payload):
    route_key = provider_class(spec.kind).split(payload)[0][0]
    return ChipFactory(
        gateway__kind=spec.kind,
        gateway__webhook_secret=SECRET,
        gateway__base_url="http://gateway.test",
        instance_name=route_key or "only-chip",
        instance_token=spec.instance_token,
        **{f"gateway__{key}": value for key, value in spec.gateway_extra.items()},
    )


@pytest.mark.django_db
@pytest.mark.parametrize(("kind", "name"), list(fixture_cases()))
def test_every_fixture_is_accepted_signed_and_refused_unsigned(wsgi_client, kind, name):
    spec = spec_for(kind)
    assert name is not None
    payload = load_fixture(name)
    chip_for(spec, payload)
    raw = json.dumps(payload).encode()

    wrong = "wrong-" + SECRET
    refused = wsgi_client.post(spec.url(wrong), data=raw, content_type="application/json", **spec.sign(raw, wrong))
    assert refused.status_code in (401, 404), refused.content
    assert Message.objects.count() == 0 and Lead.objects.count() == 0

    accepted = wsgi_client.post(spec.url(SECRET), data=raw, content_type="application/json", **spec.sign(raw, SECRET))
    assert accepted.status_code in (200, 202), accepted.content
    assert (accepted.status_code == 202) == (Message.objects.filter(direction="in").exists())


@pytest.fixture
def sender(db):
    def make(kind):
        spec = spec_for(kind)
        chip = ChipFactory(
            gateway__kind=kind,
            gateway__base_url="http://gateway.test",
            gateway__api_key="api-key",
            instance_name="inst-1",
            instance_token=spec.instance_token,
            **{f"gateway__{key}": value for key, value in spec.gateway_extra.items()},
        )
        routed = routed_chip(chip)
        return spec, provider_for(routed.gateway), routed.address

    return make


@pytest.mark.parametrize("kind", KINDS)
def test_send_ok(sender, kind):
    spec, provider, address = sender(kind)
    status, body = spec.send_text_ok
    with respx.mock(assert_all_called=True) as router:
        route = router.route(method=spec.send_text_method, url__regex=spec.send_text_url).respond(status, json=body)
        result = provider.send_text(address, Contact(phone="+5511900000001"), "Olá!")
    assert result.provider_message_id == spec.sent_id
    assert route.call_count == 1
    assert "Olá!" in route.calls[0].request.content.decode()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("failure", [503, 429, httpx.ConnectError("refused")], ids=["503", "429", "connect"])
def test_send_transient_failure_is_retryable(sender, kind, failure):
    spec, provider, address = sender(kind)
    with respx.mock() as router:
        route = router.route(method=spec.send_text_method, url__regex=spec.send_text_url)
        if isinstance(failure, Exception):
            route.side_effect = failure
        else:
            route.respond(failure, json={"error": "try later"})
        with pytest.raises(ProviderError) as caught:
            provider.send_text(address, Contact(phone="+5511900000001"), "Olá!")
    assert caught.value.permanent is False
    assert caught.value.outcome_unknown is False


@pytest.mark.parametrize("kind", KINDS)
def test_send_permanent_failure_is_not_retried(sender, kind):
    spec, provider, address = sender(kind)
    with respx.mock() as router:
        router.route(method=spec.send_text_method, url__regex=spec.send_text_url).respond(
            400, json={"error": "invalid number"}
        )
        with pytest.raises(ProviderError) as caught:
            provider.send_text(address, Contact(phone="+5511900000001"), "Olá!")
    assert caught.value.permanent is True
    assert "400" in str(caught.value)


@pytest.mark.parametrize("kind", KINDS)
def test_send_timeout_is_an_unknown_outcome(sender, kind):
    spec, provider, address = sender(kind)
    with respx.mock() as router:
        router.route(method=spec.send_text_method, url__regex=spec.send_text_url).side_effect = httpx.ReadTimeout(
            "slow"
        )
        with pytest.raises(ProviderError) as caught:
            provider.send_text(address, Contact(phone="+5511900000001"), "Olá!")
    assert caught.value.outcome_unknown is True
