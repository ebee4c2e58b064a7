"""A LID-only sender gets its phone from the gateway once; the lead remembers it after that."""

import json

import pytest
import respx

from conversations.models import Lead, Message
from conversations.routing import inbound_attach
from tests.contract.waha import SPEC as WAHA
from tests.factories import ChipFactory
from tests.payloads import load_fixture

pytestmark = pytest.mark.django_db
BASE = "http://waha.test:3000"


@pytest.fixture
def waha_chip():
    body = load_fixture("waha/message__noweb_lid_issue1073.json")
    return ChipFactory(
        gateway__kind="waha",
        gateway__base_url=BASE,
        gateway__api_key="waha-key",
        gateway__webhook_secret="waha-hmac-key-0123456789",
        instance_name=body["session"],
    )


def deliver(client, chip, message_id):
    body = load_fixture("waha/message__noweb_lid_issue1073.json")
    body["payload"]["id"] = body["payload"]["id"].rsplit("_", 1)[0] + "_" + message_id
    raw = json.dumps(body).encode()
    response = client.post(
        "/webhooks/waha/", data=raw, content_type="application/json", **WAHA.sign(raw, chip.gateway.webhook_secret)
    )
    assert response.status_code == 202, response.content
    return Message.objects.get(provider_message_id=message_id)


def test_lid_is_resolved_through_the_lids_api_once_then_from_the_lead(client, waha_chip):
    with respx.mock(base_url=BASE, assert_all_called=True) as router:
        lookup = router.get(url__regex=r"/api/[^/]+/lids/4630000000355%40lid$").respond(
            200, json={"lid": "4630000000355@lid", "pn": "5511987654321@c.us"}
        )
        inbound_attach(message_id=deliver(client, waha_chip, "AAA111").pk)
        inbound_attach(message_id=deliver(client, waha_chip, "AAA222").pk)

    assert lookup.call_count == 1  # the second message found the link on the lead
    assert lookup.calls[0].request.headers["X-Api-Key"] == "waha-key"
    [lead] = Lead.objects.all()
    assert (lead.wa_lid, lead.phone) == ("4630000000355", "+5511987654321")


def test_an_unresolvable_lid_still_makes_a_lead(client, waha_chip):
    with respx.mock(base_url=BASE) as router:
        router.get(url__regex=r"/lids/").respond(200, json=load_fixture("waha/response.lids__not_found_docs.json"))
        inbound_attach(message_id=deliver(client, waha_chip, "BBB111").pk)
    [lead] = Lead.objects.all()
    assert (lead.wa_lid, lead.phone) == ("4630000000355", None)
