"""A plain `def` job runs in a worker thread, and `@job(executor="process")` in the worker's process pool,
with the async jobs' retries, progress and timeouts. Real worker processes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio

from arqkit import JobArgumentsInvalid, JobContext, job, keys
from arqkit.client import JobQueue
from arqkit.status import JobStatus
from tests.service.settings import Settings
from tests.support import PROCESS_START_SECONDS, WorkerProcess, wait_for
from tests.support.blocking_workers import (
    GO,
    RUNS,
    SAW_CANCELLED,
    SYNC_JOBS,
    adds_in_a_thread,
    hashes_in_a_process,
    outlives_its_timeout_in_a_thread,
    waits_for_go,
)

StartWorker = Callable[..., WorkerProcess]


@pytest.fixture
async def queue(settings: Settings, redis_client: redis.asyncio.Redis) -> AsyncIterator[JobQueue]:
    queue = JobQueue.connect(settings, SYNC_JOBS)
    yield queue
    await queue.aclose()


@pytest.fixture
async def sync_worker(start_worker: StartWorker, redis_client: redis.asyncio.Redis) -> WorkerProcess:
    worker = start_worker("tests.support.blocking_workers.SyncJobs")
    await wait_for(
        lambda: redis_client.zcard(keys.WORKERS), timeout=PROCESS_START_SECONDS, what="worker heartbeat"
    )
    return worker


async def _finished(queue: JobQueue, job_id: str, timeout: float = 20) -> JobStatus:
    async def probe() -> JobStatus | None:
        status = await queue.status(job_id)
        return status if status.status in {"complete", "failed"} else None

    return await wait_for(probe, timeout=timeout, interval=0.1, what=f"job {job_id} to finish")


async def test_a_def_job_runs_in_a_worker_thread_and_completes(
    queue: JobQueue, sync_worker: WorkerProcess
) -> None:
    enqueued = await queue.enqueue(adds_in_a_thread, a=2, b=3, transient_failures=0)

    status = await _finished(queue, enqueued.job_id)

    assert status.status == "complete"
    assert status.result["sum"] == 5
    assert status.result["thread"] == "arqkit-sync-job"  # not the event loop's thread
    assert status.result["pid"] == sync_worker.pid


async def test_a_def_job_is_retried_after_a_transient_error(
    queue: JobQueue, sync_worker: WorkerProcess, redis_client: redis.asyncio.Redis
) -> None:
    enqueued = await queue.enqueue(adds_in_a_thread, a=1, b=1, transient_failures=2)

    status = await _finished(queue, enqueued.job_id)

    assert (status.status, status.try_, status.result["sum"]) == ("complete", 3, 2)
    runs: bytes = await redis_client.hget(RUNS, enqueued.job_id)  # type: ignore[misc]  # redis-py's union
    assert int(runs) == 3


async def test_a_def_jobs_progress_shows_while_it_runs(
    queue: JobQueue, sync_worker: WorkerProcess, redis_client: redis.asyncio.Redis
) -> None:
    enqueued = await queue.enqueue(waits_for_go)

    async def halfway() -> JobStatus | None:
        status = await queue.status(enqueued.job_id)
        return status if status.progress == 0.5 else None

    assert (await wait_for(halfway, timeout=20, what="progress 0.5")).status == "in_progress"
    await redis_client.set(GO, 1)
    status = await _finished(queue, enqueued.job_id)
    assert (status.status, status.progress, status.result) == ("complete", 1.0, "went")


async def test_a_def_job_past_its_timeout_fails_and_its_thread_is_told_it_was_cancelled(
    queue: JobQueue, sync_worker: WorkerProcess, redis_client: redis.asyncio.Redis
) -> None:
    enqueued = await queue.enqueue(outlives_its_timeout_in_a_thread)

    status = await _finished(queue, enqueued.job_id)

    assert status.status == "failed"
    assert status.error is not None
    assert status.error.type == "TimeoutError"
    saw: Any = await wait_for(lambda: redis_client.get(SAW_CANCELLED), timeout=5, what="the thread to stop")
    assert saw == b"True"


async def test_a_process_job_runs_in_the_worker_process_pool_with_retries_and_progress(
    queue: JobQueue, sync_worker: WorkerProcess
) -> None:
    enqueued = await queue.enqueue(hashes_in_a_process, data="abc", rounds=4)

    status = await _finished(queue, enqueued.job_id, timeout=40)  # the pool spawns its process first

    assert (status.status, status.try_, status.progress) == ("complete", 2, 1.0)
    assert status.result["pid"] != sync_worker.pid
    assert status.result["resources"] is None  # the worker's resources stay in the worker
    assert len(status.result["digest"]) == 64


async def test_a_def_jobs_arguments_are_typed_at_enqueue(queue: JobQueue) -> None:
    """mypy (strict, warn_unused_ignores) fails this file if `@job` on a def stops typing its enqueue."""
    with pytest.raises(JobArgumentsInvalid, match="a: Input should be a valid integer"):
        await queue.enqueue(adds_in_a_thread, a="two", b=3, transient_failures=0)  # type: ignore[arg-type]


def test_a_def_job_that_takes_the_async_context_is_a_mypy_error() -> None:
    """A thread must not use the worker loop's Redis: a def job's ctx is a `SyncJobContext`."""

    def wants_the_loops_redis(ctx: JobContext[Any, Any]) -> None: ...

    assert job()(wants_the_loops_redis).executor == "thread"  # type: ignore[arg-type]


def test_executor_is_refused_on_an_async_def() -> None:
    async def on_the_loop(ctx: JobContext[Any, Any]) -> None: ...

    with pytest.raises(TypeError, match="executor= is for a plain def"):
        job(executor="process")(on_the_loop)
