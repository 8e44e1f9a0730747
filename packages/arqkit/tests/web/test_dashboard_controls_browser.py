"""The dashboard's queue and dead-letter controls in a real headless Chromium: pause and resume a queue,
discard a dead letter. The browser, server and page fixtures are in tests/web/conftest.py."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect

from arqkit import JobQueue, QueueAdmin
from tests.service.settings import Settings
from tests.support import WorkerProcess
from tests.web.conftest import dead_letter_row, log_in, screenshot


async def test_a_queue_is_paused_and_resumed_with_its_button(
    page: Page, live_api: str, job_queue: JobQueue
) -> None:
    admin = QueueAdmin(job_queue)
    await log_in(page, live_api)
    row = page.locator('#queues tr[data-queue="bulk"]')
    await expect(row.locator("td.state")).to_have_text("running")

    await row.locator("button.pause").click()

    await expect(row.locator("td.state")).to_have_text("paused")
    assert {q.priority: q.paused for q in await admin.overview()}["bulk"] is True
    await screenshot(page, "dashboard-queue-paused.png")
    await row.locator("button.pause").click()
    await expect(row.locator("td.state")).to_have_text("running")
    assert {q.priority: q.paused for q in await admin.overview()}["bulk"] is False


async def test_a_dead_letter_is_discarded_by_clicking_and_confirming(
    page: Page,
    live_api: str,
    job_queue: JobQueue,
    sink: httpx.AsyncClient,
    worker: WorkerProcess,
    settings: Settings,
) -> None:
    failed, row = await dead_letter_row(page, live_api, job_queue, sink)

    await row.locator("button.discard").click()
    dialog = page.locator("#confirm-dialog")
    await expect(dialog.locator("#confirm-items")).to_contain_text(failed)
    await expect(dialog.locator("#confirm-replay")).to_have_text("Discard")
    await dialog.locator("#confirm-replay").click()

    await expect(row).to_have_count(0)
    await expect(page.locator("#dead-count")).to_have_text("0")
    assert (await QueueAdmin(job_queue).dead_letters(10, None)).items == []
