"""Operator notifications on Slack: sent by a task with retries, never inside the request that caused them.

`notify` is what services call. It does nothing when no Slack webhook is configured, waits for the
surrounding transaction to commit (a rolled-back ban must not be announced), and swallows a broker
outage: a lost notification is better than a failed provisioning or webhook.
"""

from __future__ import annotations

import structlog
from django.conf import settings
from django.db import transaction

log = structlog.get_logger(__name__)

# What operators are told about, with the emoji that makes the channel scannable.
EVENT_ICONS = {
    "provisioned": ":new:",
    "code_received": ":envelope_with_arrow:",
    "connected": ":white_check_mark:",
    "disconnected": ":warning:",
    "banned": ":no_entry:",
    "provisioning_failed": ":x:",
    "cancelled": ":wastebasket:",
}


class NotificationRetry(Exception):
    """Slack could not take the message now; the task retries it later."""


def notify(event: str, message: str) -> None:
    """Tell the operators' Slack channel about a fleet event, after the current transaction commits."""
    if not settings.SLACK_WEBHOOK_URL:
        return
    text = f"{EVENT_ICONS.get(event, ':information_source:')} {message}"
    transaction.on_commit(lambda: _enqueue(event, text))


def _enqueue(event: str, text: str) -> None:
    from chips.tasks import notify as notify_task

    try:
        notify_task.apply_async(args=[text], retry=False)
    except Exception as exc:  # the broker is down: never fail the caller for a notification
        log.warning("notification.not_queued", notify_event=event, error=exc.__class__.__name__)


def slack_post(*, text: str) -> bool:
    """Post one message; False when Slack is not configured or refuses it for good (logged)."""
    from integrations.slack import SlackError, slack_client_from_settings

    client = slack_client_from_settings()
    if client is None:
        return False
    try:
        client.post(text)
    except SlackError as exc:
        if not exc.permanent:
            raise NotificationRetry(str(exc)) from exc
        log.error("notification.refused", error=str(exc))
        return False
    return True
