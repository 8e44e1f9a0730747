"""Fixtures of the HTTP tests that need more than the in-process app: a real Chromium on a real uvicorn
(the dashboard's browser tests), with a signed-in page and screenshots in test-artifacts/."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Locator, Page, async_playwright, expect

from arqkit import JobQueue
from tests.service.jobs import notify
from tests.service.settings import Settings
from tests.support import ROOT, serve_api

ARTIFACTS = ROOT / "test-artifacts"
TIMEOUT_MS = 20_000
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(
            f"no Chromium at {CHROMIUM}: run `python3 scripts/test.py` as root on Debian/Ubuntu to have it "
            "installed (apt-get install chromium), or install it yourself"
        )
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest.fixture
def live_api(settings: Settings, tmp_path: Path) -> Iterator[str]:
    env = {"DASHBOARD_REFRESH_SECONDS": "0.25", "DASHBOARD_SAMPLE_SECONDS": "0.2"}
    with serve_api(settings, tmp_path / "api.log", **env) as url:
        yield url


@pytest.fixture
async def page(browser: Browser, live_api: str) -> AsyncIterator[Page]:
    """A fresh browser context; closed before the server stops, so no open event stream delays it."""
    context = await browser.new_context()
    opened = await context.new_page()
    opened.set_default_timeout(TIMEOUT_MS)
    yield opened
    await context.close()


async def log_in(page: Page, live_api: str) -> None:
    await page.goto(live_api + "/admin")
    await page.fill("#token", "test-admin-token")
    await page.click("button[type=submit]")
    await expect(page.locator("#connection")).to_have_text("live")


async def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / name), full_page=True)


async def dead_letter_row(
    page: Page, live_api: str, job_queue: JobQueue, sink: httpx.AsyncClient
) -> tuple[str, Locator]:
    """A notify the sink rejects (400), so a dead letter; signed in, with its row on the page."""
    await sink.post("/_control/fail", json={"status": 400, "times": 1})
    failed = await job_queue.enqueue(notify, email="ada@example.com", name="Ada")
    await log_in(page, live_api)
    row = page.locator(f'#dead-letters tr[data-job-id="{failed.job_id}"]')
    await expect(row).to_be_visible()
    return failed.job_id, row
