"""An idle worker waits for a wake-up, not a timer (arqkit/internals/wakeup.py), and still misses nothing.

Each test gives the worker an idle wait of a minute: a job that completes well within that was started
by the wake-up (or by its due time), never by the fallback poll.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest
import redis.asyncio
from arq.connections import ArqRedis

from arqkit import keys
from arqkit.internals.enqueue import Enqueuer
from arqkit.internals.wakeup import WakeableRedis
from tests.service.settings import Settings
from tests.support import WorkerProcess, wait_for

LONG_IDLE_WAIT = 60.0


@pytest.fixture
async def idle_worker(
    settings: Settings, start_worker: Callable[..., WorkerProcess], redis_client: redis.asyncio.Redis
) -> WorkerProcess:
    """A worker that waits up to a minute between reads when idle, already blocked in that wait."""
    process = start_worker(worker_settings=settings.model_copy(update={"worker_idle_wait_seconds": 60}))

    async def blocked() -> bool:
        return any(client.get("cmd") == "blpop" for client in await redis_client.client_list())

    await wait_for(blocked, timeout=20, what="the worker to wait for a wake-up")
    return process


async def _completed(pool: ArqRedis, job_id: str) -> None:
    """A cron function keeps no result: finished is when arq has deleted the job key."""

    async def finished() -> bool:
        return not await pool.exists(keys.job(job_id))

    await wait_for(finished, timeout=15, what=f"{job_id} to finish")


async def test_an_idle_worker_starts_a_new_job_when_woken(
    idle_worker: WorkerProcess, pool: ArqRedis, enqueuer: Enqueuer
) -> None:
    await enqueuer.enqueue_job("hourly_tick", _job_id="woken")

    await _completed(pool, "woken")


async def test_an_idle_worker_runs_a_deferred_job_when_it_is_due(
    idle_worker: WorkerProcess, pool: ArqRedis, enqueuer: Enqueuer
) -> None:
    await enqueuer.enqueue_job("hourly_tick", _job_id="due-soon", _defer_by=timedelta(seconds=1))

    await _completed(pool, "due-soon")


async def test_a_job_enqueued_without_a_token_is_read_after_the_idle_wait(
    settings: Settings, start_worker: Callable[..., WorkerProcess], pool: ArqRedis
) -> None:
    start_worker(worker_settings=settings.model_copy(update={"worker_idle_wait_seconds": 0.2}))

    await pool.enqueue_job("hourly_tick", _job_id="no-token")

    await _completed(pool, "no-token")


async def test_the_queue_read_skips_jobs_that_are_running(settings: Settings, pool: ArqRedis) -> None:
    await pool.enqueue_job("hourly_tick", _job_id="running")
    await pool.enqueue_job("hourly_tick", _job_id="waiting")
    await pool.set(keys.in_progress("running"), b"1")
    reader = WakeableRedis(pool.connection_pool, default_queue_name=settings.queue_name)

    ids = await reader.zrangebyscore(settings.queue_name, min=float("-inf"), max=2**52, start=0, num=10)

    assert ids == [b"waiting"]


async def test_the_queue_read_finds_nothing_while_the_queue_is_paused(
    settings: Settings, pool: ArqRedis
) -> None:
    await pool.enqueue_job("hourly_tick", _job_id="waiting")
    await pool.set(keys.paused(settings.queue_name), b"1")
    reader = WakeableRedis(pool.connection_pool, default_queue_name=settings.queue_name)
    reader.idle_wait_seconds = 0.05

    ids = await reader.zrangebyscore(settings.queue_name, min=float("-inf"), max=2**52, start=0, num=10)

    assert ids == []


async def test_an_idle_wait_that_ends_with_no_token_reads_the_queue_once_not_twice(
    settings: Settings, pool: ArqRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """arq reads again after poll_delay anyway (issue 24: an idle worker's commands/s); a token, or a
    deferred job falling due, is still followed by a read in the same call."""
    reader = WakeableRedis(pool.connection_pool, default_queue_name=settings.queue_name)
    reader.idle_wait_seconds = 0.05
    reads: list[None] = []
    read = reader._ready

    async def counted(*args: object) -> tuple[list[bytes], bytes | None]:
        reads.append(None)
        return await read(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(reader, "_ready", counted)

    assert (
        await reader.zrangebyscore(settings.queue_name, min=float("-inf"), max=2**52, start=0, num=10) == []
    )
    assert len(reads) == 1

    reader.idle_wait_seconds = 30
    reads.clear()
    read_task = asyncio.create_task(
        reader.zrangebyscore(settings.queue_name, min=float("-inf"), max=2**52, start=0, num=10)
    )
    await wait_for(lambda: _returns(bool(reads)))  # the first read found nothing: it waits for a token
    await pool.enqueue_job("hourly_tick", _job_id="woken")
    await pool.rpush(keys.wake(settings.queue_name), b"1")  # type: ignore[misc]  # what our enqueue pushes

    assert await asyncio.wait_for(read_task, 10) == [b"woken"]  # woken: read again in the same call
    assert len(reads) == 2


async def _returns(value: bool) -> bool:
    return value
