"""An operator runs the fleet in a real browser: provision a number, connect it, watch and steer the fleet.

Salvy and the Evolution gateway are faked at the httpx boundary (respx patches httpx in the whole
process, so the live server and the Celery worker threads call the fakes too). The provisioning job
runs on a real Celery worker beside the test; webhooks arrive at the real endpoints, signed as the
gateway and Salvy sign them. The pages must update by themselves, without a reload.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from datetime import timedelta

import httpx
import pytest
import respx
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Page, expect

from chips.admin_views import qr_svg
from chips.models import Chip, ChipAlert, ChipSession, ChipTransition, ProvisioningJob
from chips.services import alert_raise
from conversations.models import Message
from tests.chips.salvy_fakes import SALVY_ROOT, SVIX_SECRET, account, evolution_created, sms_received, svix_headers
from tests.e2e.conftest import pipeline  # noqa: F401 - the real Celery worker fixture
from tests.factories import ChipFactory, ConversationFactory, GatewayFactory
from tests.payloads import evolution_headers, load_fixture
from tests.simulator.conftest import artifacts, chromium  # noqa: F401 - browser fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DEADLINE_MS = 20_000
USERNAME = "operator"
PASSWORD = "fleet-pw-for-tests-only"
EVOLUTION_URL = "http://evolution.test:8080"
NEW_PHONE = "+5511951231234"
INSTANCE = "recado-5511951231234"
ACCOUNT_ID = "7d3e1b52-93c4-4a0e-8f7a-2b6c9d1e4f80"
FIRST_QR = "2@FirstQrFromConnect0123456789abcdefABCDEF==,keyOne=,keyTwo=,keyThree="
SECOND_QR = "2@SecondQrFromWebhook9876543210fedcbaFEDCBA==,keyFour=,keyFive=,keySix="


def qr_path(payload: str) -> str:
    """The path data segno draws for a QR payload: what the page's <svg> must show."""
    return re.search(r' d="([^"]+)"', qr_svg(payload)).group(1)


@pytest.fixture
def page(chromium, live_server):  # noqa: F811 - the browser fixture imported above
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url)
    context.set_default_timeout(DEADLINE_MS)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def operator(live_server, page) -> Page:
    """A staff member logged in through the admin's login form."""
    get_user_model().objects.create_superuser(username=USERNAME, email="", password=PASSWORD)
    page.goto("/admin/login/?next=/admin/")
    page.locator("#id_username").fill(USERNAME)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("input[type=submit]").click()
    expect(page).to_have_url(f"{live_server.url}/admin/")
    return page


@pytest.fixture
def outside_world(settings):
    """Salvy and the Evolution server, faked at the httpx boundary; the gateway's session creation
    waits until the test lets it go, so the job's steps can be watched while it runs."""
    settings.SALVY_API_URL = SALVY_ROOT
    settings.SALVY_API_TOKEN = "salvy_test_0123456789"
    settings.SALVY_WEBHOOK_SECRET = SVIX_SECRET
    settings.SLACK_WEBHOOK_URL = ""
    session_may_open = threading.Event()

    def create_instance(request: httpx.Request) -> httpx.Response:
        session_may_open.wait(timeout=30)
        return evolution_created(json.loads(request.content)["instanceName"])

    with respx.mock(assert_all_called=False) as router:
        router.get(f"{SALVY_ROOT}/virtual-phone-accounts/area-codes").respond(
            200, json=load_fixture("salvy/area_codes.json")
        )
        bought = router.post(f"{SALVY_ROOT}/virtual-phone-accounts").respond(
            200, json=account(id=ACCOUNT_ID, phoneNumber=NEW_PHONE, name="vendas-sp")
        )
        router.post(f"{EVOLUTION_URL}/instance/create").mock(side_effect=create_instance)
        router.get(f"{EVOLUTION_URL}/instance/connect/{INSTANCE}").respond(
            200, json={"pairingCode": None, "code": FIRST_QR, "base64": "", "count": 1}
        )
        yield {"bought": bought, "session_may_open": session_may_open}
        session_may_open.set()


def evolution_webhook(gateway_secret: str, fixture: str, **data) -> int:
    """Post an Evolution webhook for the new chip to the real endpoint, as the gateway would."""
    body = copy.deepcopy(load_fixture(f"evolution/{fixture}"))
    body["instance"] = INSTANCE
    body["data"].update(data)
    response = Client().post(
        "/webhooks/evolution/", json.dumps(body), content_type="application/json", **evolution_headers(gateway_secret)
    )
    return response.status_code


def test_an_operator_provisions_a_number_and_connects_it(operator, pipeline, outside_world, live_server, artifacts):  # noqa: F811
    page = operator
    gateway = GatewayFactory(name="evo-sp", base_url=EVOLUTION_URL)

    # The admin index leads to the provisioning screen, which lists the DDDs Salvy has in stock.
    page.get_by_role("link", name="Provision a number").click()
    expect(page.locator("h1")).to_have_text("Provision a number")
    expect(page.locator("#id_ddd option")).to_have_text(["11", "31"])
    page.locator("#id_ddd").select_option("11")
    page.locator("#id_name").fill("vendas-sp")
    page.locator("#id_gateway").select_option(label=str(gateway))
    page.screenshot(path=artifacts / "fleet-provisioning-form.png", full_page=True)
    page.get_by_role("button", name="Buy and set up the number").click()

    # The job page follows the worker's steps as they happen.
    job = ProvisioningJob.objects.get()
    expect(page).to_have_url(f"{live_server.url}/admin/chips/provisioningjob/{job.pk}/progress/")
    steps = page.locator("#job-steps li")
    expect(steps.filter(has_text="DDD 11 has numbers available")).to_be_visible()
    expect(steps.filter(has_text=f"bought {NEW_PHONE}")).to_be_visible()
    expect(page.locator("#job-status")).to_have_text("running")
    expect(page.locator("#job-result")).to_have_text("")
    outside_world["session_may_open"].set()  # the gateway answers: the job can finish
    expect(page.locator("#job-status")).to_have_text("succeeded")
    expect(page.locator("#job-result")).to_contain_text(f"New number {NEW_PHONE}")
    expect(steps.filter(has_text="session created on evo-sp")).to_be_visible()
    page.screenshot(path=artifacts / "fleet-provisioning.png", full_page=True)
    assert outside_world["bought"].call_count == 1
    assert json.loads(outside_world["bought"].calls.last.request.content) == {"areaCode": 11, "name": "vendas-sp"}
    chip = Chip.objects.get(phone=NEW_PHONE)
    assert (chip.status, chip.salvy_id, chip.instance_name) == ("pending", ACCOUNT_ID, INSTANCE)

    # Connect: ask the gateway for a QR code; it is drawn as SVG.
    page.get_by_role("link", name="Connect it to WhatsApp").click()
    expect(page).to_have_url(f"{live_server.url}/admin/chips/chip/{chip.pk}/connect/")
    expect(page.locator("#session-state")).to_have_text("created")
    page.get_by_role("button", name="New QR code").click()
    expect(page.locator(".messagelist")).to_contain_text("New QR code requested.")
    qr = page.locator("#qr svg path")
    expect(qr).to_be_visible()
    expect(qr).to_have_attribute("d", qr_path(FIRST_QR))
    expect(page.locator("#session-state")).to_have_text("qr")

    # The gateway sends a fresh QR by webhook: the page shows it without a reload.
    page.evaluate("window.sameDocument = true")
    assert evolution_webhook(
        gateway.webhook_secret,
        "qrcode.updated__pairing_v1.json",
        qrcode={"instance": INSTANCE, "pairingCode": None, "code": SECOND_QR, "base64": None},
    ) in (200, 202)
    assert ChipSession.objects.get(chip=chip).qr_code == SECOND_QR
    expect(qr).to_have_attribute("d", qr_path(SECOND_QR))

    # WhatsApp texts its code to the number: Salvy's signed webhook puts it on the page.
    body = json.dumps(
        sms_received(
            id="5f0c2a9e-1d4b-4c3a-9e8f-7a6b5c4d3e2f",
            phoneAccountId=ACCOUNT_ID,
            virtualPhoneAccountId=ACCOUNT_ID,
            destinationPhoneNumber=NEW_PHONE,
            originPhoneNumber="29210",
            message="Seu código do WhatsApp: 482-913. Não compartilhe esse código com ninguém.",
            receivedAt=timezone.now().isoformat(),
        )
    ).encode()
    answer = Client().post("/webhooks/salvy/", body, content_type="application/json", headers=svix_headers(body))
    assert answer.status_code == 200, answer.content
    code = page.locator("#sms-list .sms-row").first
    expect(code.locator(".sms-code")).to_have_text("482913")
    expect(code).to_contain_text("Não compartilhe esse código")
    expect(code.get_by_role("button", name="Mark used")).to_be_visible()
    page.screenshot(path=artifacts / "fleet-connect.png", full_page=True)

    # The phone scans the QR: the state flips to connected and the chip starts warming up.
    assert evolution_webhook(gateway.webhook_secret, "connection.update__open_v1.json", instance=INSTANCE) in (200, 202)
    expect(page.locator("#session-state")).to_have_text("connected")
    expect(page.locator("#chip-status")).to_have_text("warming")
    expect(page.locator("#qr svg")).to_have_count(0)
    assert page.evaluate("window.sameDocument") is True, "the page reloaded instead of updating itself"
    page.screenshot(path=artifacts / "fleet-connect-connected.png", full_page=True)

    # The code was typed on the phone: the operator marks it used.
    code.get_by_role("button", name="Mark used").click()
    expect(page.locator(".messagelist")).to_contain_text("Code 482913 marked as used.")
    expect(page.locator("#sms-list .sms-row.used .sms-code")).to_have_text("482913")


def _sent(chip: Chip, status: str, rank: int, *, hours_ago: float = 1) -> None:
    Message.objects.create(
        conversation=ConversationFactory(chip=chip),
        chip=chip,
        direction="out",
        origin="agent",
        provider="evolution",
        status=status,
        status_rank=rank,
        sent_at=timezone.now() - timedelta(hours=hours_ago),
        text="Olá!",
    )


def test_an_operator_watches_and_steers_the_fleet(operator, live_server, artifacts):  # noqa: F811
    page = operator
    ready = ChipFactory(status="ready", phone="+5511900001111", instance_name="sp-ready")
    ChipFactory(status="warming", phone="+5511900002222", warmup_started_at=timezone.now() - timedelta(days=4))
    degraded = ChipFactory(status="degraded", phone="+5521900003333")
    ChipFactory(status="banned", phone="+5531900004444")
    for status, rank in (("delivered", 30), ("read", 40), ("failed", 25)):
        _sent(ready, status, rank)
    _sent(ready, "delivered", 30, hours_ago=50)
    alert = alert_raise(chip_id=degraded.pk, kind="disconnected", message="+5521900003333 lost its connection")

    page.get_by_role("link", name="Fleet overview").click()
    expect(page.locator("h1")).to_have_text("Fleet")
    for status, count in (("ready", "1"), ("warming", "1"), ("degraded", "1"), ("banned", "1"), ("active", "0")):
        expect(page.locator(f'#status-counts [data-status="{status}"] strong')).to_have_text(count)
    row = page.locator(f"#chip-{ready.pk}")
    expect(row.locator(".health-24h")).to_contain_text("3 sent · 2 delivered")
    expect(row.locator(".health-24h")).to_contain_text("1 read · 1 failed · 0 replies")
    expect(row.locator(".health-7d")).to_contain_text("4 sent · 3 delivered")
    expect(row.locator(".health-score")).to_contain_text("fair")
    expect(page.locator("#alerts")).to_contain_text("+5521900003333 lost its connection")
    page.screenshot(path=artifacts / "fleet-overview.png", full_page=True)

    # Resolve the alert: it leaves the list of open alerts.
    page.locator(f'#alerts [data-alert-id="{alert.pk}"]').get_by_role("button", name="Resolve").click()
    expect(page.locator(".messagelist")).to_contain_text("Resolved: +5521900003333 lost its connection")
    expect(page.locator("#alerts")).not_to_contain_text("+5521900003333 lost its connection")
    expect(page.locator("#alerts")).to_contain_text("No open alerts.")
    assert ChipAlert.objects.get(pk=alert.pk).resolved_at is not None

    # Move the ready chip to active: its new status shows, and so does the audit row.
    row.get_by_label(f"New status for {ready.phone}").select_option("active")
    row.get_by_label(f"Reason for {ready.phone}").fill("first campaign")
    row.get_by_role("button", name="Apply").click()
    expect(page.locator(".messagelist")).to_contain_text(f"Chip {ready.phone} moved from ready to active.")
    expect(page.locator(f"#status-active #chip-{ready.pk} .chip-status")).to_have_text("active")
    expect(page.locator('#status-counts [data-status="ready"] strong')).to_have_text("0")
    audit = page.locator(f"#audit-{ready.pk}")
    audit.locator("summary").click()
    expect(audit.locator("tbody tr").first).to_contain_text("ready")
    expect(audit.locator("tbody tr").first).to_contain_text("active")
    expect(audit.locator("tbody tr").first).to_contain_text("first campaign")
    expect(audit.locator("tbody tr").first).to_contain_text(f"user:{USERNAME}")
    page.screenshot(path=artifacts / "fleet-overview-after.png", full_page=True)
    assert ChipTransition.objects.get(chip=ready).triggered_by == f"user:{USERNAME}"
