"""A person chats with the sandbox chip in a real browser; the real relay and worker answer.

The page posts a signed Evolution webhook, the pipeline runs the agent, the worker sends the
bubbles to the fake gateway inside the live server, and the page shows what the gateway received.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Page, expect

from conversations.models import AgentRun, Message
from simulator.models import SandboxDelivery
from simulator.services import SANDBOX_PHONE, sandbox_setup
from tests.simulator.conftest import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DEADLINE_MS = 30_000
USERNAME = "staff"
PASSWORD = "simulator-pw-for-tests-only"
CUSTOMER_DIGITS = "5511900000001"  # the page's default "Your number"


def agent_bubbles() -> list[str]:
    return list(
        Message.objects.filter(direction="out", origin="agent")
        .order_by("created_at", "sequence", "id")
        .values_list("text", flat=True)
    )


def settled(turns: int):
    """`turns` customer messages answered and every bubble of the answers sent to the gateway."""

    def check() -> bool:
        pending_in = Message.objects.filter(direction="in", processed_at__isnull=True).exists()
        unsent = Message.objects.filter(direction="out", origin="agent").exclude(status="sent").exists()
        return AgentRun.objects.count() >= turns and not pending_in and not unsent

    return check


def say(page: Page, text: str) -> None:
    page.get_by_label("Message").fill(text)
    page.get_by_role("button", name="Send").click()
    customer = page.locator(".bubble.customer").filter(has_text=text)
    expect(customer).to_have_count(1)
    expect(customer.locator(".status")).to_have_text("✓ delivered to Recado", timeout=DEADLINE_MS)


@pytest.fixture
def page(chromium, live_server):
    context = chromium.new_context(viewport={"width": 1100, "height": 760}, locale="pt-BR", base_url=live_server.url)
    context.set_default_timeout(DEADLINE_MS)
    page = context.new_page()
    yield page
    context.close()


def test_a_person_chats_with_the_agent_through_the_simulator(live_server, pipeline, page, artifacts):
    get_user_model().objects.create_superuser(username=USERNAME, email="", password=PASSWORD)
    chip = sandbox_setup(base_url=live_server.url + "/simulator/gateway")

    # Log in through the admin form, which sends us on to the simulator.
    page.goto("/simulator/")
    expect(page).to_have_url(f"{live_server.url}/admin/login/?next=/simulator/")
    page.locator("#id_username").fill(USERNAME)
    page.locator("#id_password").fill(PASSWORD)
    # The page's first poll carries the customer's number: by then it knows where the feed starts.
    with page.expect_response(lambda r: "/simulator/feed?" in r.url and f"number={CUSTOMER_DIGITS}" in r.url):
        page.locator("input[type=submit]").click()
    expect(page).to_have_url(f"{live_server.url}/simulator/")
    expect(page.locator("header")).to_contain_text(f"Sandbox chip {SANDBOX_PHONE}")

    bot = page.locator(".bubble.bot")
    expect(bot).to_have_count(0)

    # First message: the agent greets and asks something.
    say(page, "Olá, tudo bem?")
    expect(bot.first).to_be_visible(timeout=DEADLINE_MS)
    assert wait_until(settled(1)), "the pipeline did not answer the first message"
    first_turn = agent_bubbles()
    assert first_turn, "the agent stored no bubble"
    expect(bot.first).to_have_text(first_turn[0])
    expect(bot).to_have_text(first_turn, timeout=DEADLINE_MS)
    page.screenshot(path=artifacts / "simulator-first-turn.png")

    # The answer to the bot's question brings the next turn's bubbles.
    say(page, "Meu nome é Carlos")
    bot.nth(len(first_turn)).wait_for(state="visible", timeout=DEADLINE_MS)  # the count grows
    assert wait_until(settled(2)), "the pipeline did not answer the second message"
    both_turns = agent_bubbles()
    assert len(both_turns) > len(first_turn)
    expect(bot).to_have_text(both_turns, timeout=DEADLINE_MS)
    expect(page.locator("#typing")).to_have_text("", timeout=DEADLINE_MS)
    page.screenshot(path=artifacts / "simulator-conversation.png", full_page=True)

    # Server side: one turn per customer message, and the page shows exactly what the gateway got.
    inbound = Message.objects.filter(direction="in")
    assert sorted(inbound.values_list("text", flat=True)) == ["Meu nome é Carlos", "Olá, tudo bem?"]
    assert AgentRun.objects.count() == inbound.count() == 2
    for run in AgentRun.objects.all():
        assert Message.objects.filter(agent_run=run, direction="out").exists()
    texts = SandboxDelivery.objects.filter(kind=SandboxDelivery.Kind.TEXT)
    assert list(texts.values_list("text", flat=True)) == bot.all_text_contents() == both_turns
    assert set(texts.values_list("number", flat=True)) == {CUSTOMER_DIGITS}
    assert set(texts.values_list("instance_name", flat=True)) == {chip.instance_name}
    presences = SandboxDelivery.objects.filter(kind=SandboxDelivery.Kind.PRESENCE)
    assert presences.count() == texts.count()
    sent_ids = set(
        Message.objects.filter(direction="out", origin="agent").values_list("provider_message_id", flat=True)
    )
    assert sent_ids == set(texts.values_list("provider_message_id", flat=True))
