"""A job that blocks its event loop is still never started twice while its worker lives and it is within
its timeout; past its timeout plus the grace, a stuck worker lets it go. Real worker processes, two of
them, with the suite's 3 s crash recovery."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio

from arqkit import keys
from arqkit.client import JobQueue
from tests.service.settings import Settings
from tests.support import PROCESS_START_SECONDS, WorkerProcess, wait_for
from tests.support.blocking_workers import BLOCKING_JOBS, RUNS, blocks_its_loop, blocks_past_its_timeout

StartWorker = Callable[..., WorkerProcess]
TARGET = "tests.support.blocking_workers.BlockingJobs"


@pytest.fixture
async def queue(settings: Settings, redis_client: redis.asyncio.Redis) -> AsyncIterator[JobQueue]:
    queue = JobQueue.connect(settings, BLOCKING_JOBS)
    yield queue
    await queue.aclose()


async def _two_workers(
    start_worker: StartWorker, redis_client: redis.asyncio.Redis, settings: Settings
) -> list[WorkerProcess]:
    workers = [start_worker(TARGET, settings), start_worker(TARGET, settings)]
    await wait_for(
        lambda: _at_least(redis_client, 2), timeout=PROCESS_START_SECONDS, what="two worker heartbeats"
    )
    return workers


async def _at_least(redis_client: redis.asyncio.Redis, count: int) -> bool:
    return bool(await redis_client.zcard(keys.WORKERS) >= count)


async def _runs(redis_client: redis.asyncio.Redis, job_id: str) -> int:
    """How many times the job started (each run counts itself first)."""
    runs: bytes | None = await redis_client.hget(RUNS, job_id)  # type: ignore[misc]  # redis-py's union
    return int(runs or 0)


async def _finished(queue: JobQueue, job_id: str, timeout: float) -> str:
    async def probe() -> str | None:
        status = await queue.status(job_id)
        return status.status if status.status in {"complete", "failed"} else None

    return await wait_for(probe, timeout=timeout, interval=0.2, what=f"job {job_id} to finish")


@pytest.mark.parametrize("how", ["sleep", "cpu"])
async def test_an_async_job_that_blocks_its_loop_past_crash_recovery_runs_once(
    how: str,
    queue: JobQueue,
    start_worker: StartWorker,
    redis_client: redis.asyncio.Redis,
    settings: Settings,
) -> None:
    await _two_workers(start_worker, redis_client, settings)
    # Over three times the crash-recovery time; BLOCKING_TEST_SECONDS=40 runs the 40 s job.
    blocked_for = float(os.environ.get("BLOCKING_TEST_SECONDS", "10"))
    enqueued = await queue.enqueue(blocks_its_loop, seconds=blocked_for, how=how)

    assert await _finished(queue, enqueued.job_id, timeout=blocked_for + 20) == "complete"
    assert await _runs(redis_client, enqueued.job_id) == 1
    status = await queue.status(enqueued.job_id)
    assert status.try_ == 1


async def test_a_blocked_loop_is_logged_with_the_job_that_blocks_it(
    queue: JobQueue, start_worker: StartWorker, redis_client: redis.asyncio.Redis, settings: Settings
) -> None:
    worker = start_worker(TARGET, settings)
    await wait_for(
        lambda: _at_least(redis_client, 1), timeout=PROCESS_START_SECONDS, what="a worker heartbeat"
    )
    enqueued = await queue.enqueue(
        blocks_its_loop, seconds=settings.worker_blocked_loop_seconds + 2, how="sleep"
    )

    assert await _finished(queue, enqueued.job_id, timeout=20) == "complete"
    await wait_for(lambda: _logged(worker, "event loop unblocked"), timeout=5, what="the unblocked line")
    [blocked] = [line for line in worker.log_text().splitlines() if "event loop blocked" in line]
    assert enqueued.job_id in blocked
    assert "blocks_its_loop" in blocked


async def _logged(worker: WorkerProcess, text: str) -> bool:
    return text in worker.log_text()


async def test_a_job_blocked_past_its_timeout_and_grace_is_let_go_to_another_worker(
    queue: JobQueue, start_worker: StartWorker, redis_client: redis.asyncio.Redis, settings: Settings
) -> None:
    short_grace = settings.model_copy(update={"claim_grace_seconds": 1.0})
    workers = await _two_workers(start_worker, redis_client, short_grace)
    # timeout 1 s + grace 1 s, then the claim's 2 s: the other worker takes it long before this ends
    enqueued = await queue.enqueue(blocks_past_its_timeout, seconds=15.0)

    async def taken_over() -> bool:
        return await _runs(redis_client, enqueued.job_id) >= 2

    await wait_for(taken_over, timeout=12, interval=0.2, what="another worker to run the job")
    assert await _finished(queue, enqueued.job_id, timeout=10) == "complete"
    status = await queue.status(enqueued.job_id)
    assert (status.try_, status.result) == (2, 2)
    assert any("its claim is no longer renewed" in worker.log_text() for worker in workers)


async def test_sigterm_ends_a_worker_whose_loop_stays_blocked_and_lets_its_claim_go(
    queue: JobQueue, start_worker: StartWorker, redis_client: redis.asyncio.Redis, settings: Settings
) -> None:
    worker = start_worker(TARGET, settings)
    await wait_for(
        lambda: _at_least(redis_client, 1), timeout=PROCESS_START_SECONDS, what="a worker heartbeat"
    )
    enqueued = await queue.enqueue(blocks_its_loop, seconds=120.0, how="sleep")
    await wait_for(lambda: _runs(redis_client, enqueued.job_id), timeout=20, what="the job to start")

    worker.signal(signal.SIGTERM)  # arq's handler cannot run: the loop is in time.sleep
    stopped_at = time.monotonic()
    assert worker.process is not None
    code = await asyncio.to_thread(worker.process.wait, 30)

    # what arq would wait for its jobs, plus the watchdog's threshold, plus its checks
    assert (
        time.monotonic() - stopped_at
        < settings.job_completion_wait_seconds + settings.worker_blocked_loop_seconds + 3
    )
    assert code == 1
    assert "the event loop stayed blocked" in worker.log_text()
    assert not await redis_client.exists(keys.in_progress(enqueued.job_id))  # another worker may take it now
