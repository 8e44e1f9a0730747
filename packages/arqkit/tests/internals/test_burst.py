"""Pins what the testing kit relies on in arq's `Worker(burst=True)` (arqkit/internals/burst.py)."""

from __future__ import annotations

import signal

import pytest
import redis.asyncio

from arqkit import (
    JobQueue,
    PermanentError,
    Registry,
    TransientError,
    build_worker_settings,
    job,
    keys,
)
from arqkit.internals.burst import run_until_empty
from arqkit.job import AnyContext as Ctx
from arqkit.status import read_status
from tests.service.settings import Settings

TRIES = keys.PREFIX + "test:burst-tries"


@job(max_tries=3)
async def fails_twice(ctx: Ctx) -> int:
    tries = int(await ctx.redis.incr(TRIES))
    if tries < 3:
        raise TransientError(f"try {tries}")
    return tries


@job(max_tries=3)
async def always_rejected(ctx: Ctx) -> None:
    raise PermanentError("no")


REGISTRY = Registry([fails_twice, always_rejected])


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """An idle worker looks at its queue every 50 ms (else each look waits a second)."""
    return settings.model_copy(update={"worker_idle_wait_seconds": 0.05})


async def _enqueue(settings: Settings, function: str) -> str:
    queue = JobQueue.connect(settings, REGISTRY)
    try:
        return (await queue.enqueue_named(function, [], {}, settings.queue_name)).job_id
    finally:
        await queue.aclose()


async def test_a_burst_worker_returns_once_its_queue_is_empty_having_run_deferred_retries(
    settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    job_id = await _enqueue(settings, fails_twice.name)

    await run_until_empty(build_worker_settings(settings, REGISTRY), cron_jobs=[])

    assert await redis_client.zcard(settings.queue_name) == 0
    status = await read_status(redis_client, job_id, settings.queue_name)
    assert status is not None
    assert (status.status, status.try_, status.result) == ("complete", 3, 3)


async def test_closing_a_burst_worker_runs_on_shutdown_which_writes_its_dead_letters(
    settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    job_id = await _enqueue(settings, always_rejected.name)

    await run_until_empty(build_worker_settings(settings, REGISTRY), cron_jobs=[])

    assert await redis_client.zscore(keys.DEAD_LETTERS, job_id) is not None


async def test_a_burst_worker_leaves_the_processs_signal_handlers_alone(
    settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)

    await run_until_empty(build_worker_settings(settings, REGISTRY), cron_jobs=[])

    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
