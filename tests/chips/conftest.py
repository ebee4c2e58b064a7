"""Fixtures of the fleet tests: what the fleet services hand to the broker, caught at `apply_async`."""

from __future__ import annotations

import pytest


@pytest.fixture
def notifications(settings, monkeypatch) -> list[str]:
    """Texts of the Slack notifications queued (after commit) during the test."""
    from chips import tasks

    settings.SLACK_WEBHOOK_URL = "https://hooks.slack.test/services/T000/B000/XXXX"
    sent: list[str] = []
    monkeypatch.setattr(tasks.notify, "apply_async", lambda args, **kwargs: sent.append(args[0]))
    return sent


@pytest.fixture
def salvy_cancels(monkeypatch) -> list[list]:
    """Arguments of every `chips.cancel_at_salvy` task queued during the test."""
    from chips import tasks

    queued: list[list] = []
    monkeypatch.setattr(tasks.cancel_at_salvy, "apply_async", lambda args, **kwargs: queued.append(list(args)))
    return queued
