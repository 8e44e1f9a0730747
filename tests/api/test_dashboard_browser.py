"""The /admin dashboard in a real headless Chromium: log in, watch the queue live, replay a dead letter.

Needs Debian's Chromium at /usr/bin/chromium (`scripts/test.py` installs it when it can); without it
these tests skip and say why. Playwright drives it; it never downloads a browser of its own.
A screenshot of the last state is saved in test-artifacts/.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from jobs.core.client import JobQueue
from jobs.email import send_welcome_email
from settings import Settings
from tests.support import ROOT, WorkerProcess, serve_api, wait_for

ARTIFACTS = ROOT / "test-artifacts"
TIMEOUT_MS = 20_000


@pytest.fixture
def live_api(settings: Settings, tmp_path: Path) -> Iterator[str]:
    with serve_api(settings, tmp_path / "api.log", DASHBOARD_REFRESH_SECONDS="0.25") as url:
        yield url


@pytest.fixture
async def page(browser: Browser, live_api: str) -> AsyncIterator[Page]:
    """A fresh browser context; closed before the server stops, so no open event stream delays it."""
    context = await browser.new_context()
    opened = await context.new_page()
    opened.set_default_timeout(TIMEOUT_MS)
    yield opened
    await context.close()


async def _log_in(page: Page, live_api: str) -> None:
    await page.goto(live_api + "/admin")
    await page.fill("#token", "test-admin-token")
    await page.click("button[type=submit]")
    await expect(page.locator("#connection")).to_have_text("live")


async def _screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / name), full_page=True)


async def test_a_wrong_token_keeps_the_login_form_with_an_error(page: Page, live_api: str) -> None:
    await page.goto(live_api + "/admin")
    await page.fill("#token", "a-guess")
    await page.click("button[type=submit]")

    await expect(page.locator("#login-error")).to_have_text("wrong admin token")


async def test_the_session_cookie_is_httponly_so_page_scripts_cannot_read_it(
    page: Page, live_api: str
) -> None:
    await _log_in(page, live_api)

    assert await page.evaluate("document.cookie") == ""
    [cookie] = await page.context.cookies()
    assert cookie["httpOnly"]


async def test_the_queue_depth_changes_live_as_jobs_are_enqueued(
    page: Page, live_api: str, job_queue: JobQueue
) -> None:
    await _log_in(page, live_api)
    await expect(page.locator("#total-queued")).to_have_text("0")

    for address in ("a@example.com", "b@example.com", "c@example.com"):
        await job_queue.enqueue(send_welcome_email, email=address, name="Ada")

    await expect(page.locator("#total-queued")).to_have_text("3")
    await expect(page.locator('#queues tr[data-queue="arq:queue"] td.queued')).to_have_text("3")


async def test_a_dead_letter_is_replayed_by_clicking_and_confirming_and_then_completes(
    page: Page,
    live_api: str,
    job_queue: JobQueue,
    sink: httpx.AsyncClient,
    worker: WorkerProcess,
) -> None:
    await sink.post("/_control/fail", json={"status": 400, "times": 1})
    failed = await job_queue.enqueue(send_welcome_email, email="ada@example.com", name="Ada")
    await _log_in(page, live_api)
    row = page.locator(f'#dead-letters tr[data-job-id="{failed.job_id}"]')
    await expect(row).to_be_visible()

    await row.locator("button.replay").click()
    dialog = page.locator("#confirm-dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog.locator("#confirm-items")).to_contain_text(failed.job_id)
    await dialog.locator("#confirm-replay").click()

    replayed = page.locator("#replays tbody tr").first
    await expect(replayed.locator(".status")).to_have_text("complete")
    await expect(row).to_have_count(0)  # it left the dead letters
    await _screenshot(page, "dashboard-after-replay.png")
    deliveries = (await sink.get("/_control/deliveries")).json()
    assert [d["to"] for d in deliveries] == ["ada@example.com"]


async def test_a_time_window_replay_confirms_what_it_replays_first(
    page: Page,
    live_api: str,
    job_queue: JobQueue,
    sink: httpx.AsyncClient,
    worker: WorkerProcess,
) -> None:
    await sink.post("/_control/fail", json={"status": 400, "times": 2})
    jobs = [await job_queue.enqueue(send_welcome_email, email=f"{n}@example.com", name="Ada") for n in "xy"]
    await _log_in(page, live_api)
    await expect(page.locator("#dead-count")).to_have_text("2")

    await page.click("#window-preview")
    dialog = page.locator("#confirm-dialog")
    await expect(dialog.locator("#confirm-title")).to_have_text("Replay 2 job(s)?")
    for job in jobs:
        await expect(dialog.locator("#confirm-items")).to_contain_text(job.job_id)
    await dialog.locator("#confirm-replay").click()

    await expect(page.locator("#replays .status-complete")).to_have_count(2)
    await expect(page.locator("#dead-count")).to_have_text("0")

    async def delivered() -> list[str] | None:
        found = sorted(d["to"] for d in (await sink.get("/_control/deliveries")).json())
        return found if len(found) == 2 else None

    assert await wait_for(delivered, what="both replays delivered") == ["x@example.com", "y@example.com"]
