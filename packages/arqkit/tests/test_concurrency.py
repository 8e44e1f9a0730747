"""Per-function concurrency across workers: leased slots in Redis, freed by themselves when a worker dies."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import cast

import httpx
import pytest
import redis.asyncio

from arqkit import Registry, keys
from arqkit.client import JobQueue
from tests.service.registry import REGISTRY
from tests.service.settings import Settings
from tests.support import PROCESS_START_SECONDS, WorkerProcess, wait_for, wait_for_status
from tests.support.workers import HOLDERS, HOLDERS_SEEN, capped_work

CAPPED_WORKER = "tests.support.workers.WithCappedWork"


@pytest.fixture
def capped(settings: Settings) -> Settings:
    return settings.model_copy(update={"long_max_concurrency": 2, "concurrency_recheck_seconds": 0.1})


@pytest.fixture
async def queue(capped: Settings, redis_client: redis.asyncio.Redis) -> AsyncIterator[JobQueue]:
    queue = JobQueue.connect(capped, Registry([*REGISTRY, capped_work]))
    yield queue
    await queue.aclose()


async def _done(api: httpx.AsyncClient, job_ids: list[str]) -> list[dict[str, object]]:
    return [await wait_for_status(api, job_id, {"complete", "failed"}, timeout=30) for job_id in job_ids]


async def test_at_most_two_capped_jobs_run_at_once_across_two_workers(
    api: httpx.AsyncClient,
    queue: JobQueue,
    capped: Settings,
    start_worker: Callable[..., WorkerProcess],
    redis_client: redis.asyncio.Redis,
) -> None:
    for _ in range(2):
        start_worker(CAPPED_WORKER, capped)
    job_ids = [(await queue.enqueue(capped_work, seconds=0.3)).job_id for _ in range(8)]

    statuses = await _done(api, job_ids)

    assert [s["status"] for s in statuses] == ["complete"] * 8
    seen = [int(n) for n in await cast(Awaitable[list[bytes]], redis_client.lrange(HOLDERS_SEEN, 0, -1))]
    assert len(seen) == 8
    assert max(seen) == 2


async def test_a_job_that_finds_every_slot_taken_is_deferred_without_spending_a_try(
    api: httpx.AsyncClient, capped: Settings, start_worker: Callable[..., WorkerProcess]
) -> None:
    one_at_a_time = capped.model_copy(update={"long_max_concurrency": 1})
    start_worker(worker_settings=one_at_a_time)
    first, second = [
        (await api.post("/long", json={"owner": n, "label": "2026-10"})).json()["job_id"] for n in (1, 2)
    ]

    waiting = await wait_for_status(api, second, {"deferred"}, timeout=PROCESS_START_SECONDS)
    assert (await api.get(f"/jobs/{first}")).json()["status"] == "in_progress"

    assert waiting["try"] == 0
    assert [s["try"] for s in await _done(api, [first, second])] == [1, 1]


async def test_a_slot_held_by_a_killed_worker_frees_itself(
    api: httpx.AsyncClient,
    queue: JobQueue,
    capped: Settings,
    start_worker: Callable[..., WorkerProcess],
    redis_client: redis.asyncio.Redis,
) -> None:
    # One slot, leased for 1.5 s; the killed worker's own job is not retried before the test ends.
    short_lease = capped.model_copy(
        update={"long_max_concurrency": 1, "concurrency_lease_seconds": 1.5, "crash_recovery_seconds": 60}
    )
    doomed = start_worker(CAPPED_WORKER, short_lease)
    stuck = (await queue.enqueue(capped_work, seconds=120)).job_id
    await wait_for(
        lambda: redis_client.get(HOLDERS),
        timeout=PROCESS_START_SECONDS,
        what="the first job to hold the slot",
    )
    doomed.kill()
    start_worker(CAPPED_WORKER, short_lease)

    later = (await queue.enqueue(capped_work, seconds=0.1)).job_id

    done = await wait_for_status(api, later, {"complete", "failed"}, timeout=PROCESS_START_SECONDS)
    assert done["status"] == "complete"
    assert (await api.get(f"/jobs/{stuck}")).json()["status"] == "in_progress"  # never released its slot
    assert await redis_client.zcard(keys.concurrency_leases("capped_work")) == 0
