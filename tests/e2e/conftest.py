"""End-to-end tests share the event tests' fixtures (private stream, test database URL) and one headless Chromium."""

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.events.conftest import jetstream, test_database_url  # noqa: F401 - fixtures re-exported for tests/e2e

CHROMIUM = os.environ.get("STATEHUB_CHROMIUM", "/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(
    not shutil.which(CHROMIUM), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (skipped where Playwright is not installed)."""
    playwright_sync = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    # Playwright runs an event loop in this thread; the ORM calls made by the tests are still synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-features=HttpsUpgrades,HttpsFirstBalancedModeAutoEnable",
            ],
        )
        yield browser
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
