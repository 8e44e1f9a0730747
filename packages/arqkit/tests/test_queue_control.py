"""A paused queue: its workers start no new job (running ones finish), enqueues go on and report `queued`,
and a resume starts the waiting jobs at once. The pause is in Redis, so it holds across worker restarts.
A purge drops what waits in one queue, however much, and nothing else."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
import redis.asyncio

from arqkit import JobQueue, QueueAdmin, UnknownQueue, keys
from arqkit.queue_control import PURGE_BATCH
from tests.service.jobs import notify
from tests.service.settings import Settings
from tests.support import PROCESS_START_SECONDS, WorkerProcess, wait_for
from tests.support.workers import sleeps_on_its_only_try

QUICK_IDLE_WAIT = {"worker_idle_wait_seconds": 0.1}  # an idle worker reads the queue ten times a second


@pytest.fixture
def admin(job_queue: JobQueue) -> QueueAdmin:
    return QueueAdmin(job_queue)


async def _queue_reads(redis_client: redis.asyncio.Redis) -> int:
    """How many waits on a wake-up list have ended (a worker waits once per empty read of its queue)."""
    stats = await redis_client.info("commandstats")
    return int(stats.get("cmdstat_blpop", {}).get("calls", 0))


async def _after_worker_reads(
    redis_client: redis.asyncio.Redis, count: int, since: int | None = None
) -> None:
    """Wait for `count` more queue reads than `since` (default: now). Redis 7.2+ and Valkey count a wait
    as it ends, Redis 7.0 as it begins: take `since` before the action that wakes the worker."""
    baseline = await _queue_reads(redis_client) if since is None else since

    async def read_enough() -> bool:
        return await _queue_reads(redis_client) >= baseline + count

    # A worker just started reads its queue only once it is up: allow for its start.
    await wait_for(
        read_enough, timeout=PROCESS_START_SECONDS, what=f"the worker to read its queue {count} more times"
    )


async def _completes(job_queue: JobQueue, job_id: str, timeout: float = 10.0) -> None:
    async def complete() -> bool:
        return (await job_queue.status(job_id)).status == "complete"

    await wait_for(complete, timeout=timeout, what=f"{job_id} to complete")


async def _worker_up(
    start_worker: Callable[..., WorkerProcess], settings: Settings, redis_client: redis.asyncio.Redis
) -> WorkerProcess:
    worker = start_worker(worker_settings=settings.model_copy(update=QUICK_IDLE_WAIT))
    await wait_for(
        lambda: redis_client.zcard(keys.WORKERS), timeout=PROCESS_START_SECONDS, what="a worker heartbeat"
    )
    return worker


async def _a_worker_is_blocked(redis_client: redis.asyncio.Redis) -> None:
    async def blocked() -> bool:
        return any("b" in client.get("flags", "") for client in await redis_client.client_list())

    await wait_for(blocked, timeout=20, what="a worker to wait for a wake-up")


async def test_a_paused_queues_job_stays_queued_while_its_worker_keeps_reading(
    settings: Settings,
    admin: QueueAdmin,
    job_queue: JobQueue,
    start_worker: Callable[..., WorkerProcess],
    redis_client: redis.asyncio.Redis,
    sink: httpx.AsyncClient,
) -> None:
    await _worker_up(start_worker, settings, redis_client)
    await admin.pause("default")

    job = await job_queue.enqueue(notify, email="ada@example.com", name="Ada")
    await _after_worker_reads(redis_client, 5)

    assert job.status == "queued"
    assert (await job_queue.status(job.job_id)).status == "queued"
    assert (await sink.get("/_control/deliveries")).json() == []
    await admin.resume("default")
    await _completes(job_queue, job.job_id)


async def test_resume_starts_the_waiting_jobs_at_once_not_at_the_next_idle_poll(
    settings: Settings,
    admin: QueueAdmin,
    job_queue: JobQueue,
    start_worker: Callable[..., WorkerProcess],
    redis_client: redis.asyncio.Redis,
) -> None:
    """The worker waits a minute between idle reads: only the resume's wake-up can start the job soon."""
    start_worker(worker_settings=settings.model_copy(update={"worker_idle_wait_seconds": 60}))
    await _a_worker_is_blocked(redis_client)
    await admin.pause("default")
    reads = await _queue_reads(redis_client)
    job = await job_queue.enqueue(notify, email="ada@example.com", name="Ada")
    await _after_worker_reads(redis_client, 1, since=reads)  # woken by the enqueue's token
    await _a_worker_is_blocked(redis_client)  # found nothing to run, waits again

    await admin.resume("default")

    await _completes(job_queue, job.job_id, timeout=10)


async def test_a_pause_holds_across_a_worker_restart(
    settings: Settings,
    admin: QueueAdmin,
    job_queue: JobQueue,
    start_worker: Callable[..., WorkerProcess],
    redis_client: redis.asyncio.Redis,
) -> None:
    first = await _worker_up(start_worker, settings, redis_client)
    await admin.pause("default")
    first.stop()

    start_worker(worker_settings=settings.model_copy(update=QUICK_IDLE_WAIT))
    job = await job_queue.enqueue(notify, email="ada@example.com", name="Ada")
    await _after_worker_reads(redis_client, 5)

    assert (await job_queue.status(job.job_id)).status == "queued"
    assert {q.priority: q.paused for q in await admin.overview()}["default"] is True
    await admin.resume("default")
    await _completes(job_queue, job.job_id)


async def test_a_running_job_finishes_after_its_queue_is_paused(
    settings: Settings, admin: QueueAdmin, job_queue: JobQueue, start_worker: Callable[..., WorkerProcess]
) -> None:
    start_worker("tests.support.workers.WithTestJobs")
    job = await job_queue.enqueue(sleeps_on_its_only_try, seconds=1)

    async def running() -> bool:
        return (await job_queue.status(job.job_id)).status == "in_progress"

    await wait_for(running, timeout=PROCESS_START_SECONDS, what="the job to start")
    await admin.pause("default")

    await _completes(job_queue, job.job_id)


async def test_pausing_one_queue_leaves_the_others_running(
    settings: Settings,
    admin: QueueAdmin,
    job_queue: JobQueue,
    start_worker: Callable[..., WorkerProcess],
    redis_client: redis.asyncio.Redis,
) -> None:
    await admin.pause("bulk")
    await _worker_up(start_worker, settings, redis_client)

    job = await job_queue.enqueue(notify, email="ada@example.com", name="Ada")

    await _completes(job_queue, job.job_id)
    assert {q.priority: q.paused for q in await admin.overview()} == {
        "critical": False,
        "default": False,
        "bulk": True,
    }


async def test_pausing_an_unknown_queue_is_an_error(admin: QueueAdmin) -> None:
    with pytest.raises(UnknownQueue):
        await admin.pause("urgent")


async def test_purge_drops_every_waiting_job_of_the_queue_due_or_deferred_and_no_other(
    admin: QueueAdmin, job_queue: JobQueue, redis_client: redis.asyncio.Redis
) -> None:
    count = 2 * PURGE_BATCH + 7  # more than one batch
    due = await asyncio.gather(
        *(job_queue.enqueue(notify, email=f"{n}@example.com", name="Ada") for n in range(count))
    )
    later = await job_queue.with_options(defer_by=timedelta(hours=1)).enqueue(
        notify, email="later@example.com", name="Ada"
    )
    elsewhere = await job_queue.with_options(priority="bulk").enqueue(
        notify, email="bulk@example.com", name="Ada"
    )

    assert await admin.purge("default") == count + 1

    assert not await redis_client.exists(*(keys.job(job.job_id) for job in [*due, later]))
    assert {q.priority: q.queued + q.deferred for q in await admin.overview()} == {
        "critical": 0,
        "default": 0,
        "bulk": 1,
    }
    assert (await job_queue.status(elsewhere.job_id)).status == "queued"
