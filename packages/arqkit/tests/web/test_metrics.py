"""`/metrics`: what a Prometheus server scrapes, counted across real worker processes and API instances."""

from __future__ import annotations

import httpx
import redis.asyncio

from arqkit import QueueAdmin, metrics
from arqkit.client import JobQueue
from tests.service.app import create_app
from tests.service.jobs import notify
from tests.service.settings import Settings
from tests.support import WorkerProcess, scrape, value, wait_for

EMAIL = "notify"
JOB_ROUTE = "/jobs/{job_id}"
OUTCOMES = ("started", "completed", "retried", "failed", "dead_lettered")
JOB_COUNTERS = [f"jobs_{outcome}_total" for outcome in OUTCOMES]
HEALTHZ = {"method": "GET", "route": "/healthz"}


async def _enqueue_emails(job_queue: JobQueue, *addresses: str) -> list[str]:
    return [(await job_queue.enqueue(notify, email=a, name="Ada")).job_id for a in addresses]


async def test_scrape_after_successes_a_retry_and_a_dead_letter_counts_each_exactly(
    api: httpx.AsyncClient, job_queue: JobQueue, sink: httpx.AsyncClient, worker: WorkerProcess
) -> None:
    await sink.post("/_control/fail", json={"status": 503, "times": 1, "to": "flaky@example.com"})
    await sink.post("/_control/fail", json={"status": 400, "times": 1, "to": "rejected@ex.com"})
    await _enqueue_emails(job_queue, "a@example.com", "b@example.com", "flaky@example.com", "rejected@ex.com")

    async def settled() -> dict[str, float] | None:
        samples = await scrape(api)
        counts = {name: value(samples, name, function=EMAIL, queue="default") for name in JOB_COUNTERS}
        done = counts["jobs_completed_total"] == 3 and counts["jobs_dead_lettered_total"] == 1
        return counts if done else None

    counts = await wait_for(settled, timeout=20, what="3 completed jobs and 1 dead letter in /metrics")
    assert counts == {
        "jobs_started_total": 5,  # 4 jobs, one of them twice
        "jobs_completed_total": 3,
        "jobs_retried_total": 1,  # the 503
        "jobs_failed_total": 2,  # the 503 try and the 400 try
        "jobs_dead_lettered_total": 1,  # the 400
    }
    samples = await scrape(api)
    assert value(samples, "jobs_duration_seconds_count", function=EMAIL, queue="default") == 5
    assert value(samples, "jobs_pickup_latency_seconds_count", function=EMAIL, queue="default") == 5
    assert value(samples, "jobs_duration_seconds_bucket", function=EMAIL, queue="default", le="+Inf") == 5
    assert value(samples, "jobs_dead_letters") == 1


async def test_queue_depth_counts_jobs_waiting_for_a_worker_per_queue(
    api: httpx.AsyncClient, job_queue: JobQueue, settings: Settings
) -> None:
    await _enqueue_emails(job_queue, "a@example.com", "b@example.com", "c@example.com")

    samples = await scrape(api)

    assert value(samples, "jobs_queue_depth", queue="default") == 3
    assert value(samples, "jobs_in_progress", queue="default") == 0


async def test_no_live_worker_shows_as_zero_workers_alive(api: httpx.AsyncClient, settings: Settings) -> None:
    samples = await scrape(api)

    assert value(samples, "jobs_workers_alive", queue="default") == 0


async def test_a_running_worker_shows_as_alive_on_its_queue(
    api: httpx.AsyncClient, settings: Settings, worker: WorkerProcess
) -> None:
    samples = await scrape(api)

    assert value(samples, "jobs_workers_alive", queue="default") == 1


async def test_a_paused_queue_shows_as_paused(api: httpx.AsyncClient, job_queue: JobQueue) -> None:
    await QueueAdmin(job_queue).pause("bulk")

    samples = await scrape(api)

    assert value(samples, "jobs_queue_paused", queue="bulk") == 1
    assert value(samples, "jobs_queue_paused", queue="default") == 0


async def test_http_requests_are_counted_by_route_template_not_raw_path(api: httpx.AsyncClient) -> None:
    await api.get("/jobs/first-unknown-id")
    await api.get("/jobs/second-unknown-id")

    async def counted() -> float | None:
        samples = await scrape(api)
        return value(samples, "http_requests_total", method="GET", route=JOB_ROUTE, status="404") or None

    assert await wait_for(counted, what="the two 404s in /metrics") == 2
    routes = {dict(labels).get("route") for _, labels in await scrape(api)}
    assert "/jobs/first-unknown-id" not in routes


async def test_every_api_process_answers_a_scrape_with_the_totals_of_all_of_them(
    settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    first, second = create_app(settings), create_app(settings)  # as two uvicorn workers would be
    async with first.router.lifespan_context(first), second.router.lifespan_context(second):
        one = httpx.AsyncClient(transport=httpx.ASGITransport(app=first), base_url="http://one")
        two = httpx.AsyncClient(transport=httpx.ASGITransport(app=second), base_url="http://two")
        async with one, two:
            await one.get("/healthz")
            await two.get("/healthz")
            await two.get("/healthz")

            async def both_counted() -> bool:
                return value(await scrape(one), "http_requests_total", **HEALTHZ, status="200") == 3

            await wait_for(both_counted, what="requests to both processes in one scrape")
            assert value(await scrape(two), "http_request_duration_seconds_count", **HEALTHZ) == 3


def test_histogram_buckets_are_cumulative() -> None:
    batch = metrics.MetricsBatch()

    batch.observe(metrics.JOB_DURATION, 0.3, EMAIL)

    def bucket(le: str) -> int:
        return batch.counts.get(metrics._field("jobs_duration_seconds_bucket", (EMAIL, le)), 0)

    assert (bucket("0.25"), bucket("0.5"), bucket("+Inf")) == (0, 1, 1)


async def test_a_flush_that_fails_keeps_its_counts_for_the_next_one(settings: Settings) -> None:
    batch = metrics.MetricsBatch()
    batch.inc(metrics.JOBS_STARTED, EMAIL)
    unreachable = redis.asyncio.Redis(port=1, socket_connect_timeout=0.2)

    try:
        await metrics.flush(batch, unreachable, settings)
    except (redis.exceptions.RedisError, OSError):
        pass
    finally:
        await unreachable.aclose()

    assert batch.counts == {metrics._field("jobs_started", (EMAIL,)): 1}
