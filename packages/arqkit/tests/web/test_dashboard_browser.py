"""The /admin dashboard in a real headless Chromium: log in, watch the queue live, replay a dead letter.

Needs Debian's Chromium at /usr/bin/chromium (`scripts/test.py` installs it when it can); without it
these tests skip and say why. Playwright drives it; it never downloads a browser of its own.
A screenshot of the last state is saved in test-artifacts/.
"""

from __future__ import annotations

import time

import httpx
import pytest
import redis.asyncio
from playwright.async_api import Page, expect

from arqkit import dead_letters, keys
from arqkit.client import JobQueue
from arqkit.dead_letters import DeadLetter
from arqkit.flows import chain, group, step
from arqkit.throughput import Sample
from tests.service.jobs import notify, record_step, report_failures
from tests.support import WorkerProcess, wait_for
from tests.web.conftest import dead_letter_row, log_in, screenshot


async def test_a_wrong_token_keeps_the_login_form_with_an_error(page: Page, live_api: str) -> None:
    await page.goto(live_api + "/admin")
    await page.fill("#token", "a-guess")
    await page.click("button[type=submit]")

    await expect(page.locator("#login-error")).to_have_text("wrong admin token")


async def test_the_session_cookie_is_httponly_so_page_scripts_cannot_read_it(
    page: Page, live_api: str
) -> None:
    await log_in(page, live_api)

    assert await page.evaluate("document.cookie") == ""
    [cookie] = await page.context.cookies()
    assert cookie["httpOnly"]


async def test_the_queue_depth_changes_live_as_jobs_are_enqueued(
    page: Page, live_api: str, job_queue: JobQueue
) -> None:
    await log_in(page, live_api)
    await expect(page.locator("#total-queued")).to_have_text("0")

    for address in ("a@example.com", "b@example.com", "c@example.com"):
        await job_queue.enqueue(notify, email=address, name="Ada")

    await expect(page.locator("#total-queued")).to_have_text("3")
    await expect(page.locator('#queues tr[data-queue="default"] td.queued')).to_have_text("3")


async def test_a_dead_letter_is_replayed_by_clicking_and_confirming_and_then_completes(
    page: Page,
    live_api: str,
    job_queue: JobQueue,
    sink: httpx.AsyncClient,
    worker: WorkerProcess,
) -> None:
    failed, row = await dead_letter_row(page, live_api, job_queue, sink)

    await row.locator("button.replay").click()
    dialog = page.locator("#confirm-dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog.locator("#confirm-items")).to_contain_text(failed)
    await dialog.locator("#confirm-replay").click()

    replayed = page.locator("#replays tbody tr").first
    await expect(replayed.locator(".status")).to_have_text("complete")
    await expect(row).to_have_count(0)  # it left the dead letters
    await screenshot(page, "dashboard-after-replay.png")
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
    jobs = [await job_queue.enqueue(notify, email=f"{n}@example.com", name="Ada") for n in "xy"]
    await log_in(page, live_api)
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


async def _dead_letters(job_queue: JobQueue, sink: httpx.AsyncClient, count: int) -> list[str]:
    """`count` welcome emails that the provider refuses (400: permanent), so each is a dead letter."""
    await sink.post("/_control/fail", json={"status": 400, "times": count})
    names = [f"someone.with.a.rather.long.address.{n}@example-with-a-long-domain.com" for n in range(count)]
    return [(await job_queue.enqueue(notify, email=e, name="Ada " * 20)).job_id for e in names]


OVERFLOW = """() => {
  const root = document.documentElement;
  const cards = [...document.querySelectorAll("main section")]
    .filter((card) => card.scrollWidth > card.clientWidth)
    .map((card) => `${card.querySelector("h2")?.textContent}: ${card.scrollWidth - card.clientWidth}px`);
  return { page: root.scrollWidth - root.clientWidth, cards };
}"""


@pytest.mark.parametrize("width", [1280, 1600, 1920])
async def test_nothing_overflows_its_card_at_desktop_widths(
    page: Page,
    live_api: str,
    job_queue: JobQueue,
    sink: httpx.AsyncClient,
    worker: WorkerProcess,
    width: int,
) -> None:
    failed = await _dead_letters(job_queue, sink, 3)
    await page.set_viewport_size({"width": width, "height": 900})
    await log_in(page, live_api)
    await expect(page.locator(f'#dead-letters tr[data-job-id="{failed[0]}"]')).to_be_visible()
    await expect(page.locator("#failure-groups tbody tr td.count")).to_have_text("3")

    overflow = await page.evaluate(OVERFLOW)

    await screenshot(page, f"dashboard-{width}px.png")
    assert overflow == {"page": 0, "cards": []}


async def test_error_text_is_its_first_line_only(
    page: Page, live_api: str, redis_client: redis.asyncio.Redis
) -> None:
    """A message of several lines (httpx's own has five) shows its first line; the rest is on hover."""
    message = "Client error '400 Bad Request' for url '<url>'\nFor more information check: <url>"
    letter = DeadLetter(
        job_id="multi-line",
        function="notify",
        queue="arq:queue",
        args=[],
        keyword_args={},
        error={"type": "HTTPStatusError", "message": message},
        tries=1,
        enqueued_at_ms=None,
        failed_at_ms=int(time.time() * 1000),
    )
    await dead_letters.record(redis_client, letter, max_kept=100)
    await log_in(page, live_api)
    error = page.locator('#dead-letters tr[data-job-id="multi-line"] td.error')

    await expect(error).to_contain_text("HTTPStatusError: Client error '400 Bad Request'")
    assert "For more information" not in await error.inner_text()
    assert "For more information" in (await error.get_attribute("title") or "")  # the full text on hover


async def test_failures_are_grouped_by_function_and_error_and_found_by_job_id(
    page: Page, live_api: str, job_queue: JobQueue, sink: httpx.AsyncClient, worker: WorkerProcess
) -> None:
    failed = await _dead_letters(job_queue, sink, 3)
    await log_in(page, live_api)
    group = page.locator("#failure-groups tbody tr")
    await expect(group.locator("td.count")).to_have_text("3")
    await expect(group.locator("td.function")).to_have_text("notify")
    await expect(group.locator("td.error-type")).to_have_text("HTTPStatusError")

    await page.fill("#failure-job-id", failed[0][:12])
    await page.click("#failure-search button[type=submit]")

    await expect(group.locator("td.example")).to_contain_text(failed[0])


async def test_the_chart_shows_the_minutes_before_the_page_opened(
    page: Page, live_api: str, redis_client: redis.asyncio.Redis
) -> None:
    """The history an API process kept in Redis (here: a minute of it) is on the chart as it opens."""
    opened_ms = time.time() * 1000
    for seconds_ago in range(60, 0, -5):
        at_ms = int(opened_ms - seconds_ago * 1000)
        sample = Sample(at_ms=at_ms, queued=1, completed=float(60 - seconds_ago), failed=0.0)
        await redis_client.zadd(keys.THROUGHPUT, {sample.model_dump_json(): at_ms})

    await log_in(page, live_api)

    chart = page.locator("#chart")
    assert int(await chart.get_attribute("data-points") or 0) >= 12
    assert float(await chart.get_attribute("data-from") or opened_ms) <= opened_ms - 55_000


async def test_a_flow_found_by_its_id_shows_its_steps_as_a_tree(
    page: Page, live_api: str, job_queue: JobQueue, worker: WorkerProcess
) -> None:
    first = step(record_step, "dashboard", "a")
    both = group(step(record_step, "dashboard", "b"), step(record_step, "dashboard", "c", fails=True))
    started = await job_queue.enqueue_flow(chain(first, both, step(report_failures, "dashboard")))
    await wait_for(lambda: _failed(job_queue, started.job_id), timeout=20, what="the flow to fail")
    await log_in(page, live_api)

    await page.fill("#failure-job-id", started.job_id)
    await page.press("#failure-job-id", "Enter")

    body = page.locator("#job-body")
    await expect(body).to_contain_text(f"flow {started.job_id}: failed (on failure: fail_flow)")
    await expect(body).to_contain_text("└─ stage 2")
    await expect(body).to_contain_text("├─ report_failures  cancelled")
    await screenshot(page, "dashboard-flow.png")


async def _failed(job_queue: JobQueue, flow_id: str) -> bool:
    return (await job_queue.status(flow_id)).status == "failed"
