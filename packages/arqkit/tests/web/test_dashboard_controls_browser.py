"""The dashboard's queue and dead-letter controls in a real headless Chromium: pause and resume a queue,
discard a dead letter, replay one with edited arguments. The browser, server and page fixtures are in
tests/web/conftest.py."""

from __future__ import annotations

import re

import httpx
from playwright.async_api import Page, expect

from arqkit import JobQueue, QueueAdmin
from tests.service.jobs import notify
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


async def test_a_dead_letter_is_replayed_with_edited_arguments_after_its_diff(
    page: Page,
    live_api: str,
    job_queue: JobQueue,
    sink: httpx.AsyncClient,
    worker: WorkerProcess,
) -> None:
    """A typo in the address (the provider's 400 is final): fixed in the dialog, checked by the server
    (a wrong type is named), shown as a diff, confirmed; the job completes and the audit names the session."""
    await sink.post("/_control/fail", json={"status": 400, "times": 100, "to": "ada@exampel.com"})
    failed = await job_queue.enqueue(notify, email="ada@exampel.com", name="Ada")
    await log_in(page, live_api)
    row = page.locator(f'#dead-letters tr[data-job-id="{failed.job_id}"]')

    await row.locator("button.edit").click()
    dialog = page.locator("#edit-dialog")
    await expect(dialog.locator("#edit-kwargs")).to_have_value(re.compile(r'"email": "ada@exampel\.com"'))
    await dialog.locator("#edit-kwargs").fill('{"email": "ada@example.com", "name": 42}')
    await dialog.locator("#edit-preview").click()
    await expect(dialog.locator("#edit-errors")).to_contain_text("name: Input should be a valid string")
    await expect(dialog.locator("#edit-confirm")).to_be_disabled()
    await dialog.locator("#edit-kwargs").fill('{"email": "ada@example.com", "name": "Ada"}')
    await dialog.locator("#edit-preview").click()
    changed = dialog.locator('#edit-diff tr[data-field="email"]')
    await expect(changed.locator("td.before")).to_have_text('"ada@exampel.com"')
    await expect(changed.locator("td.after")).to_have_text('"ada@example.com"')
    await expect(dialog.locator("#edit-diff tbody tr")).to_have_count(1)
    await dialog.locator("#edit-operator").fill("grace")
    await screenshot(page, "dashboard-edit-replay-diff.png")
    await dialog.locator("#edit-confirm").click()

    replayed = page.locator("#replays tbody tr").first
    await expect(replayed.locator(".status")).to_have_text("complete")
    await expect(row).to_have_count(0)
    assert [d["to"] for d in (await sink.get("/_control/deliveries")).json()] == ["ada@example.com"]
    audit = (await QueueAdmin(job_queue).job_detail(failed.job_id)).replay
    assert audit is not None
    assert (audit.operator, audit.via, audit.changes[0].field) == ("grace", "session", "email")
    await replayed.locator("button.link").click()  # the new job's detail shows where it came from
    await expect(page.locator("#job-body")).to_contain_text(f"--- replayed from {failed.job_id}")
    await expect(page.locator("#job-body")).to_contain_text('"operator": "grace"')
