"""Fixtures for the simulator tests: the real pipeline (from the e2e suite) and a headless Chromium."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.e2e.conftest import pipeline, wait_until  # noqa: F401 - re-exported fixtures and helper

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REQUIRE_BROWSER = os.environ.get("REQUIRE_BROWSER") == "1"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def chromium(monkeypatch):
    """Debian's Chromium driven by Playwright (sync API); skipped without it unless REQUIRE_BROWSER=1."""
    if not CHROMIUM.exists():
        if REQUIRE_BROWSER:
            pytest.fail(f"{CHROMIUM} is required (REQUIRE_BROWSER=1) but missing: apt-get install chromium")
        pytest.skip(f"needs {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an asyncio loop in this thread, so Django would take the test's
    # own ORM calls for async code. They are plain blocking calls between browser steps.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
