"""`/metrics` says what happened (issue 22): every known series from the first scrape, each event counted
once, waiting told from running by the claims, one name per queue, and a queue no worker serves shown."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import redis.asyncio
from arq.jobs import serialize_result

from arqkit import keys, metrics, priorities
from arqkit.client import JobQueue
from arqkit.internals.connection import create_worker_redis
from arqkit.internals.result_tap import ResultTap, TappedPipeline
from arqkit.job import OUTCOME, Outcome
from arqkit.job_metrics import job_ended
from tests.service.jobs import notify
from tests.service.registry import REGISTRY
from tests.service.settings import Settings
from tests.support import ROOT, WorkerProcess, scrape, settings_env, value, wait_for

QUEUES = ("critical", "default", "bulk")
EMAIL = "notify"


async def test_every_job_series_of_every_function_and_queue_is_at_zero_before_any_job(
    api: httpx.AsyncClient,
) -> None:
    samples = await scrape(api)

    for definition in REGISTRY:
        for queue in QUEUES:
            labels = {"function": definition.name, "queue": queue}
            for spec in metrics.COUNTERS:
                assert samples[(spec.name + "_total", frozenset(labels.items()))] == 0, (spec.name, labels)
            for spec in metrics.JOB_HISTOGRAMS:
                bucket = frozenset({**labels, "le": "+Inf"}.items())
                assert samples[(spec.name + "_bucket", bucket)] == 0, (spec.name, labels)


async def test_each_status_a_route_documents_is_a_series_at_zero_before_any_request(
    api: httpx.AsyncClient,
) -> None:
    samples = await scrape(api)

    for route, method, status in [
        ("/notify", "POST", "503"),
        ("/notify", "POST", "429"),
        ("/jobs/{job_id}", "GET", "404"),
    ]:
        assert (
            samples[
                (
                    "http_requests_total",
                    frozenset({"method": method, "route": route, "status": status}.items()),
                )
            ]
            == 0
        )
    assert (
        samples[
            ("http_request_duration_seconds_count", frozenset({"method": "POST", "route": "/notify"}.items()))
        ]
        == 0
    )


def _failed_result(job_id: str, tap: ResultTap) -> bytes:
    raw = serialize_result(
        EMAIL,
        (),
        {},
        1,
        10,
        False,
        ValueError("no"),
        11,
        12,
        "ref",
        "arq:queue",
        job_id,
        serializer=tap.serialize,
    )
    assert raw is not None
    return raw


async def test_a_dead_letter_flushed_while_arq_stores_its_result_is_recorded_and_counted_once(
    settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    """The flush task writes a noted letter while arq's (shielded) finish stores the same job's result."""
    tap = ResultTap("default")
    finishing, flushing = create_worker_redis(settings), create_worker_redis(settings)
    finishing.pipeline_factory = tap.pipeline
    writing, go_on = asyncio.Event(), asyncio.Event()

    def held(*args: Any, **kwargs: Any) -> TappedPipeline:
        """The flush's transaction: it waits, once sent for, until the finish has run."""
        pipe = tap.pipeline(*args, **kwargs)
        execute = pipe.execute

        async def held_execute(raise_on_error: bool = True) -> list[Any]:
            writing.set()
            await go_on.wait()
            return await execute(raise_on_error)

        pipe.execute = held_execute  # type: ignore[method-assign]
        return pipe

    flushing.pipeline_factory = held
    try:
        raw = _failed_result("j-1", tap)
        flush = asyncio.create_task(tap.flush(flushing, max_kept=100))
        await writing.wait()
        async with finishing.pipeline(transaction=True) as tr:  # arq's finish_failed_job, meanwhile
            tr.set(keys.result("j-1"), raw)
            await tr.execute()
        go_on.set()
        await flush
    finally:
        await finishing.aclose()
        await flushing.aclose()

    assert (await metrics.read(redis_client))[("jobs_dead_lettered", EMAIL, "default")] == 1
    assert await redis_client.zcard(keys.DEAD_LETTERS) == 1
    assert tap.pending == 0


async def _job_in_queue(redis_client: redis.asyncio.Redis, queue: str, job_id: str, age_s: float) -> None:
    await redis_client.zadd(queue, {job_id: int((time.time() - age_s) * 1000)})


async def test_a_running_job_is_in_progress_at_once_and_neither_waits_nor_ages_the_queue(
    api: httpx.AsyncClient, redis_client: redis.asyncio.Redis, settings: Settings
) -> None:
    """arq keeps a running job in its queue, with the score it was due at: its claim tells it apart."""
    await _job_in_queue(redis_client, settings.queue_name, "running-20s", age_s=20)
    await redis_client.set(keys.in_progress("running-20s"), "worker:1", px=10_000)

    samples = await scrape(api)

    assert value(samples, "jobs_in_progress", queue="default") == 1  # no heartbeat needed, none stale
    assert value(samples, "jobs_queue_depth", queue="default") == 0
    assert value(samples, "jobs_queue_oldest_age_seconds", queue="default") == 0

    await _job_in_queue(redis_client, settings.queue_name, "waiting-5s", age_s=5)
    await redis_client.delete(keys.in_progress("running-20s"))  # it ended (arq removes it with the claim)
    await redis_client.zrem(settings.queue_name, "running-20s")

    samples = await scrape(api)

    assert value(samples, "jobs_in_progress", queue="default") == 0
    assert value(samples, "jobs_queue_depth", queue="default") == 1
    assert 4.5 < value(samples, "jobs_queue_oldest_age_seconds", queue="default") < 10


async def test_a_deferral_is_counted_as_a_deferral_not_as_a_try() -> None:
    batch = metrics.MetricsBatch()
    ctx: dict[str, Any] = {metrics.BATCH: batch, metrics.QUEUE: "default", "job_id": "j", "job_try": 1}
    ctx["enqueue_time"] = datetime.now(UTC)

    metrics.job_started(ctx, EMAIL)
    ctx[OUTCOME] = Outcome.DEFERRED  # what the `@job` wrapper records when a limit defers the run
    await job_ended(ctx)

    def counted(spec: metrics.Spec) -> int:
        return batch.counts.get(metrics._field(spec.name, (EMAIL, "default")), 0)

    assert (counted(metrics.JOBS_STARTED), counted(metrics.JOBS_DEFERRED)) == (0, 1)


async def test_a_try_on_the_bulk_queue_is_counted_under_queue_bulk(
    api: httpx.AsyncClient, job_queue: JobQueue, start_worker: Callable[..., WorkerProcess]
) -> None:
    start_worker("tests.service.worker.BulkWorkerSettings")
    await job_queue.with_options(priority="bulk").enqueue(notify, email="a@example.com", name="Ada")

    async def completed() -> dict[str, float] | None:
        samples = await scrape(api)
        found = {q: value(samples, "jobs_completed_total", function=EMAIL, queue=q) for q in QUEUES}
        return found if found["bulk"] else None

    assert await wait_for(completed, timeout=20, what="the bulk try counted") == {
        "critical": 0,
        "default": 0,
        "bulk": 1,
    }
    samples = await scrape(api)
    assert value(samples, "jobs_started_total", function=EMAIL, queue="bulk") == 1


def test_every_queue_has_one_name_for_operators(settings: Settings) -> None:
    assert [priorities.label(settings, name) for name in priorities.all_queue_names(settings)] == [
        "critical",
        "default",
        "bulk",
    ]


async def test_a_queue_with_waiting_jobs_and_no_worker_is_a_problem_on_every_surface(
    api: httpx.AsyncClient, job_queue: JobQueue, settings: Settings, worker: WorkerProcess
) -> None:
    """A default worker runs; nothing serves bulk, where a job waits."""
    await job_queue.with_options(priority="bulk").enqueue(notify, email="a@example.com", name="Ada")
    admin = {"Authorization": f"Bearer {settings.admin_token.get_secret_value()}"}

    queues = {q["name"]: q for q in (await api.get("/admin/queues", headers=admin)).json()}
    ready = await api.get("/readyz")
    table = subprocess.run(
        [sys.executable, "-m", "tests.service", "queues"],
        cwd=ROOT,
        env=settings_env(settings),
        capture_output=True,
        text=True,
    )

    assert (queues["bulk"]["unserved"], queues["default"]["unserved"]) == (True, False)
    assert queues["bulk"]["key"] == settings.queue_name + ":bulk"
    assert ready.status_code == 200  # the API still serves: a warning, not a 503
    assert ready.json()["warnings"] == ["bulk: jobs wait and no live worker serves this queue"]
    rows = {line.split()[0]: line for line in table.stdout.splitlines()[1:]}
    assert "jobs wait, no live worker" in rows["bulk"]
    assert "jobs wait, no live worker" not in rows["default"]
    samples = await scrape(api)
    assert (
        value(samples, "jobs_queue_depth", queue="bulk"),
        value(samples, "jobs_workers_alive", queue="bulk"),
    ) == (1, 0)


async def test_counts_written_before_the_queue_label_do_not_break_a_scrape(
    api: httpx.AsyncClient, redis_client: redis.asyncio.Redis
) -> None:
    """arqkit 0.1 wrote `["jobs_started", function]`; those fields stay in Redis after an upgrade."""
    old = {
        '["jobs_started","notify"]': "7",
        '["jobs_duration_seconds_bucket","notify","+Inf"]': "7",
    }
    await redis_client.hset(keys.METRICS, mapping=old)  # type: ignore[misc]  # redis-py's union type

    samples = await scrape(api)

    assert value(samples, "jobs_started_total", function=EMAIL, queue="default") == 0
