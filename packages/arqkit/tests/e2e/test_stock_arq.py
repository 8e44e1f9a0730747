"""Mixed fleets (docs/producers.md): stock arq on one side, the template on the other, same Redis and
queue. A stock arq client enqueues for our workers; a stock arq worker runs what our client enqueued;
a stock worker's long run is never started again by one of ours."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import redis.asyncio
import structlog
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.jobs import Job

from arqkit import keys
from arqkit.client import JobQueue
from tests.service.jobs import notify
from tests.service.settings import Settings
from tests.support import PROCESS_START_SECONDS, WorkerProcess, wait_for, wait_for_status
from tests.support.stock_arq import RELEASE, RUNS, dumps

STOCK_WORKER = "tests.support.stock_arq.StockWorker"


@pytest.fixture
async def stock_client(settings: Settings, redis_client: redis.asyncio.Redis) -> AsyncIterator[ArqRedis]:
    """Another service's producer: arq's own `create_pool` with a stock JSON serializer, nothing of ours."""
    pool = await create_pool(
        RedisSettings.from_dsn(settings.redis_url), job_serializer=dumps, job_deserializer=json.loads
    )
    yield pool
    await pool.aclose()


async def test_a_job_a_stock_arq_client_enqueues_runs_on_our_worker_and_reports_its_status(
    stock_client: ArqRedis, worker: WorkerProcess, api: httpx.AsyncClient, sink: httpx.AsyncClient
) -> None:
    job = await stock_client.enqueue_job(
        "notify", email="ada@example.com", name="Ada", _queue_name="arq:queue"
    )
    assert job is not None

    body = await wait_for_status(api, job.job_id, {"complete", "failed"}, timeout=20)

    assert (body["status"], body["function"], body["try"]) == ("complete", "notify", 1)
    deliveries = (await sink.get("/_control/deliveries")).json()
    assert [d["to"] for d in deliveries] == ["ada@example.com"]
    assert await job.result(timeout=5) == body["result"]  # the stock client reads our result too


async def test_a_job_a_stock_arq_client_enqueues_starts_within_the_idle_wait_without_a_wake_up(
    stock_client: ArqRedis, worker: WorkerProcess, settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    """arq's enqueue pushes no wake-up token: an idle worker reads the queue again after its idle wait."""

    async def blocked() -> bool:
        return any(client.get("cmd") == "blpop" for client in await redis_client.client_list())

    await wait_for(blocked, timeout=20, what="the worker to wait for a wake-up")

    job = await stock_client.enqueue_job("notify", email="ada@example.com", name="Ada")
    assert job is not None
    enqueued = time.time()

    async def started_at() -> bytes | None:
        return await redis_client.hget(keys.job_meta(job.job_id), "started_at")  # type: ignore[no-any-return,misc]

    started = await wait_for(started_at, timeout=10, what="the job to start")

    assert float(started) - enqueued < settings.worker_idle_wait_seconds + 1.0  # slack: a busy machine


async def test_a_stock_arq_worker_runs_a_job_our_client_enqueued_with_its_meta(
    start_worker: Callable[..., WorkerProcess],
    job_queue: JobQueue,
    stock_client: ArqRedis,
    redis_client: redis.asyncio.Redis,
) -> None:
    structlog.contextvars.bind_contextvars(request_id="req-from-the-api")
    try:
        enqueued = await job_queue.enqueue(notify, email="ada@example.com", name="Ada")
    finally:
        structlog.contextvars.unbind_contextvars("request_id")
    stored = json.loads(await redis_client.get(keys.job(enqueued.job_id)) or b"{}")
    start_worker(STOCK_WORKER)

    result = await Job(enqueued.job_id, stock_client, _deserializer=json.loads).result(timeout=20)

    assert result == "stock worker greeted Ada <ada@example.com>"  # not a TypeError about `_meta`
    assert stored["k"] == {"email": "ada@example.com", "name": "Ada"}
    assert stored["meta"] == {"request_id": "req-from-the-api"}  # beside arq's fields, which it ignores


async def test_a_job_a_stock_arq_worker_runs_longer_than_crash_recovery_is_not_started_again_by_ours(
    start_worker: Callable[..., WorkerProcess],
    stock_client: ArqRedis,
    redis_client: redis.asyncio.Redis,
    api: httpx.AsyncClient,
    settings: Settings,
) -> None:
    start_worker(STOCK_WORKER)
    job = await stock_client.enqueue_job("waits_for_release", "once")
    assert job is not None
    await wait_for(lambda: runs(redis_client, job.job_id), timeout=20, what="the stock worker's start")
    start_worker("tests.support.workers.MixedFleet")
    await wait_for(
        lambda: redis_client.zcard(keys.WORKERS), timeout=PROCESS_START_SECONDS, what="our worker's heartbeat"
    )

    # Our heartbeat beats every second; before, it cut the stock claim to 2 s, and ours ran the job again.
    await asyncio.sleep(2 * settings.crash_recovery_seconds)
    runs_while_it_ran = await runs(redis_client, job.job_id)
    claim_left_ms = await redis_client.pttl(keys.in_progress(job.job_id))
    await redis_client.set(RELEASE, 1)
    body = await wait_for_status(api, job.job_id, {"complete", "failed"}, timeout=20)

    assert runs_while_it_ran == 1
    assert claim_left_ms > settings.crash_recovery_seconds * 1000  # arq's own: job_timeout + 10 s
    assert (body["status"], body["result"], body["try"]) == ("complete", "stock:once", 1)
    assert await runs(redis_client, job.job_id) == 1


async def runs(redis_client: redis.asyncio.Redis, job_id: str) -> int:
    """How many times any worker started the job (`waits_for_release` counts its starts)."""
    return int(await redis_client.hget(RUNS, job_id) or 0)  # type: ignore[misc]
