"""Slack incoming webhooks, faked with respx: 200 `ok` or a plain-text error code."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from integrations.slack import SlackClient, SlackError, slack_client_from_settings

WEBHOOK_URL = "https://hooks.slack.com/services/T0000TEST/B0000TEST/s3cr3tT0k3nValue"
SECRET_PART = "s3cr3tT0k3nValue"


@pytest.fixture
def client():
    with httpx.Client() as http:
        yield SlackClient(WEBHOOK_URL, http=http)


@pytest.fixture
def router():
    with respx.mock(assert_all_called=False) as mock:
        yield mock


def test_a_message_is_posted_as_json_text(client, router):
    route = router.post(WEBHOOK_URL).respond(200, text="ok")

    assert client.post("Chip +5511987654321 banned") is None

    assert route.call_count == 1
    assert json.loads(route.calls.last.request.content) == {"text": "Chip +5511987654321 banned"}


def test_blocks_go_along_with_the_fallback_text(client, router):
    route = router.post(WEBHOOK_URL).respond(200, text="ok")
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Chip banned*"}}]

    client.post("Chip banned", blocks=blocks)

    assert json.loads(route.calls.last.request.content) == {"text": "Chip banned", "blocks": blocks}


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "invalid_payload"),
        (400, "user_not_found"),
        (403, "action_prohibited"),
        (404, "channel_not_found"),
        (410, "channel_is_archived"),
    ],
)
def test_client_errors_are_permanent_and_name_slacks_code(client, router, status, code):
    router.post(WEBHOOK_URL).respond(status, text=code)

    with pytest.raises(SlackError) as caught:
        client.post("hello")

    error = caught.value
    assert error.permanent is True
    assert (error.status_code, error.code) == (status, code)
    assert code in str(error)
    assert SECRET_PART not in str(error)


@pytest.mark.parametrize(("status", "body"), [(500, "rollup_error"), (503, ""), (429, "rate_limited")])
def test_server_errors_and_rate_limits_are_transient(client, router, status, body):
    router.post(WEBHOOK_URL).respond(status, text=body)

    with pytest.raises(SlackError) as caught:
        client.post("hello")

    assert caught.value.permanent is False
    assert caught.value.status_code == status
    assert f"HTTP {status}" in str(caught.value)
    assert SECRET_PART not in str(caught.value)


def test_a_200_without_ok_is_not_taken_for_success(client, router):
    router.post(WEBHOOK_URL).respond(200, text="<html>captive portal</html>")

    with pytest.raises(SlackError, match="unexpected body"):
        client.post("hello")


@pytest.mark.parametrize("failure", [httpx.ConnectError(f"cannot connect to {WEBHOOK_URL}"), httpx.ReadTimeout("slow")])
def test_network_failures_are_transient_and_never_show_the_url(client, router, failure):
    router.post(WEBHOOK_URL).mock(side_effect=failure)

    with pytest.raises(SlackError) as caught:
        client.post("hello")

    assert caught.value.permanent is False
    assert "cannot reach Slack" in str(caught.value)
    assert SECRET_PART not in str(caught.value)
    assert caught.value.__cause__ is None


def test_the_client_never_shows_its_url():
    assert SECRET_PART not in repr(SlackClient(WEBHOOK_URL))


def test_from_settings_is_none_when_slack_is_not_configured(settings):
    settings.SLACK_WEBHOOK_URL = ""

    assert slack_client_from_settings() is None


def test_from_settings_posts_to_the_configured_webhook(settings, router):
    settings.SLACK_WEBHOOK_URL = WEBHOOK_URL
    route = router.post(WEBHOOK_URL).respond(200, text="ok")

    slack_client_from_settings().post("hello")

    assert route.call_count == 1
