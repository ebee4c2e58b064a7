"""Every webhook endpoint, fed malformed, truncated, wrongly typed and oversized bodies.

Whatever arrives — signed as the provider signs or not — the answer is never a 5xx, and a body
that is refused stores nothing and changes nothing already stored. Bodies go through the production
WSGI entry point (config/wsgi.py), as the gateways' requests do. WEBHOOK_PROPERTY_EXAMPLES
(default 60 per endpoint) searches deeper when set higher.
"""

from __future__ import annotations

import copy
import importlib
import json
import os

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from chips.models import Chip, ChipSession
from conversations.models import EarlyStatus, Lead, Message
from integrations.providers.base import WebhookRejected
from integrations.providers.registry import PROVIDERS, provider_class
from tests.factories import ChipFactory, GatewayFactory
from tests.payloads import load_fixture

KINDS = [kind for kind in PROVIDERS if kind != "sandbox"]
SECRET = "property-webhook-secret-0123456789abcdef"
BODY_LIMIT = 4096

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=15,
)


def spec_for(kind):
    return importlib.import_module(f"tests.contract.{kind}").SPEC


def ensure_chips(spec):
    """One gateway per kind with a chip for every route key its fixtures use (created once per test)."""
    gateway = GatewayFactory(
        kind=spec.kind, webhook_secret=SECRET, base_url="http://gateway.test", **spec.gateway_extra
    )
    for name in spec.fixtures:
        try:
            route_key = provider_class(spec.kind).split(load_fixture(name))[0][0] or "only-chip"
        except WebhookRejected:  # a fixture the adapter refuses to route needs no chip
            continue
        if not Chip.objects.filter(gateway=gateway, instance_name=route_key).exists():
            ChipFactory(gateway=gateway, instance_name=route_key, instance_token=spec.instance_token)


def mutate(value, path_choices, replacement, delete):
    """Replace (or delete) one node of a JSON document, chosen by a list of indices."""
    document = copy.deepcopy(value)
    node = document
    for choice in path_choices:
        if isinstance(node, dict) and node:
            key = sorted(node)[choice % len(node)]
            child = node[key]
            if not isinstance(child, (dict, list)) or not child:
                if delete:
                    del node[key]
                else:
                    node[key] = replacement
                return document
            node = child
        elif isinstance(node, list) and node:
            index = choice % len(node)
            child = node[index]
            if not isinstance(child, (dict, list)) or not child:
                node[index] = replacement
                return document
            node = child
        else:
            break
    return replacement if node is document else document


@st.composite
def bodies(draw, spec):
    shape = draw(st.sampled_from(["bytes", "json", "mutated", "truncated", "oversized"]))
    if shape == "bytes":
        return draw(st.binary(max_size=600))
    if shape == "json":
        return json.dumps(draw(json_values)).encode()
    if shape == "oversized":
        return b'{"pad": "' + b"x" * draw(st.integers(BODY_LIMIT, BODY_LIMIT * 3)) + b'"}'
    fixture = load_fixture(draw(st.sampled_from(spec.fixtures)))
    mutated = mutate(
        fixture,
        draw(st.lists(st.integers(0, 50), min_size=1, max_size=6)),
        draw(json_values),
        draw(st.booleans()),
    )
    raw = json.dumps(mutated).encode()
    if shape == "truncated":
        raw = raw[: draw(st.integers(0, max(0, len(raw) - 1)))]
    return raw


settings_for_webhooks = hypothesis_settings(
    max_examples=int(os.environ.get("WEBHOOK_PROPERTY_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)


def snapshot():
    return (
        list(Message.objects.order_by("pk").values_list("pk", "status", "text", "status_rank")),
        list(Lead.objects.order_by("pk").values_list("pk", "phone", "wa_lid", "bsuid")),
        Chip.objects.count(),
        list(ChipSession.objects.order_by("pk").values_list("pk", "state", "qr_code")),
        EarlyStatus.objects.count(),
    )


@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS)
def test_no_body_gets_a_5xx_or_leaves_a_trace_when_refused(wsgi_client, kind, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = BODY_LIMIT
    spec = spec_for(kind)
    ensure_chips(spec)

    @settings_for_webhooks
    @given(raw=bodies(spec), signed=st.booleans())
    def check(raw, signed):
        before = snapshot()
        secret = SECRET if signed else "not-the-" + SECRET
        response = wsgi_client.post(
            spec.url(secret), data=raw, content_type="application/json", **spec.sign(raw, secret)
        )
        assert response.status_code < 500, response.content[:300]
        if response.status_code not in (200, 202):
            assert snapshot() == before, f"{response.status_code} but something was stored"
            assert "error" in response.json()
        if not signed:
            assert response.status_code in (400, 401, 403, 404, 413)

    check()
