"""Per-key concurrency (`@job(concurrency=PerKey("tenant_id", limit=1))`): at most `limit` runs per key
across all workers; a job over its key's cap waits in the queue without spending a try, not in front of the
other keys' jobs, and without spinning. Real Redis, real worker processes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import cast

import httpx
import pytest
import redis.asyncio

from arqkit import PerKey, job, keys
from arqkit.client import JobQueue
from arqkit.job import AnyContext
from tests.service import keys as service_keys
from tests.service.jobs import tenant_work
from tests.service.registry import REGISTRY
from tests.service.settings import Settings
from tests.support import PROCESS_START_SECONDS, WorkerProcess, scrape, value, wait_for, wait_for_status

FINAL = {"complete", "failed"}
_LEASES = keys.per_key_leases(tenant_work.name, "*")  # every tenant's


@pytest.fixture
def rechecking(settings: Settings) -> Settings:
    """A job over its key's cap comes back after 0.1 to 0.3 s; a worker runs 5 jobs at once (fewer than the
    jobs one tenant queues: a job that waited for its key in a worker's slot would starve the others)."""
    return settings.model_copy(update={"concurrency_recheck_seconds": 0.2, "worker_max_jobs": 5})


@pytest.fixture
async def queue(rechecking: Settings, redis_client: redis.asyncio.Redis) -> AsyncIterator[JobQueue]:
    queue = JobQueue.connect(rechecking, REGISTRY)
    yield queue
    await queue.aclose()


async def _seen(redis_client: redis.asyncio.Redis, tenant: str) -> list[int]:
    raw = await cast(Awaitable[list[bytes]], redis_client.lrange(service_keys.tenant_seen(tenant), 0, -1))
    return [int(n) for n in raw]


async def _holding_a_slot(redis_client: redis.asyncio.Redis, tenant: str) -> None:
    """A job of `tenant` runs its code: it holds the slot (claimed only, it would not yet)."""
    running = lambda: redis_client.get(service_keys.tenant_running(tenant))  # noqa: E731
    await wait_for(running, timeout=PROCESS_START_SECONDS, what=f"a job of {tenant} to hold its slot")


async def _done_order(redis_client: redis.asyncio.Redis) -> list[str]:
    raw = await cast(Awaitable[list[bytes]], redis_client.lrange(service_keys.TENANTS_DONE, 0, -1))
    return [tenant.decode() for tenant in raw]


async def test_a_tenant_with_fifty_jobs_does_not_hold_up_a_tenant_with_five(
    api: httpx.AsyncClient,
    queue: JobQueue,
    rechecking: Settings,
    start_worker: Callable[..., WorkerProcess],
    redis_client: redis.asyncio.Redis,
) -> None:
    for _ in range(2):
        start_worker(worker_settings=rechecking)
    a_jobs = [(await queue.enqueue(tenant_work, tenant_id="a", seconds=0.1)).job_id for _ in range(50)]
    b_jobs = [(await queue.enqueue(tenant_work, tenant_id="b", seconds=0.1)).job_id for _ in range(5)]

    b_done = [await wait_for_status(api, j, FINAL, timeout=PROCESS_START_SECONDS) for j in b_jobs]
    a_done_then = (await _done_order(redis_client)).count("a")
    a_done = [await wait_for_status(api, j, FINAL, timeout=60) for j in a_jobs]

    assert a_done_then < 25, "b's five jobs waited behind most of a's fifty"
    assert max(await _seen(redis_client, "a")) == 1  # one at a time, across both workers
    assert max(await _seen(redis_client, "b")) == 1
    # max_tries=1: a deferral that spent the try would have failed the job
    assert [(s["status"], s["try"]) for s in b_done + a_done] == [("complete", 1)] * 55


async def test_a_job_over_its_keys_cap_is_looked_at_about_once_per_recheck_not_in_a_loop(
    api: httpx.AsyncClient,
    queue: JobQueue,
    settings: Settings,
    start_worker: Callable[..., WorkerProcess],
    redis_client: redis.asyncio.Redis,
) -> None:
    recheck = settings.model_copy(update={"concurrency_recheck_seconds": 1})  # back after 0.5 to 1.5 s
    worker = start_worker(worker_settings=recheck)
    holder = (await queue.enqueue(tenant_work, tenant_id="a", seconds=4)).job_id
    await _holding_a_slot(redis_client, "a")
    waiting = (await queue.enqueue(tenant_work, tenant_id="a", seconds=0)).job_id

    other = await wait_for_status(
        api, (await queue.enqueue(tenant_work, tenant_id="b", seconds=0)).job_id, FINAL
    )
    assert (await api.get(f"/jobs/{holder}")).json()["status"] == "in_progress"
    done = await wait_for_status(api, waiting, FINAL, timeout=30)
    worker.stop()  # its metrics are flushed as it stops

    deferrals = value(await scrape(api), "jobs_deferred_total", function=tenant_work.name, queue="default")
    assert other["status"] == "complete"  # another tenant's job ran while "a" was at its cap
    assert (done["status"], done["try"]) == ("complete", 1)
    assert 2 <= deferrals <= 4 / 0.5 + 1  # the holder's 4 s over the shortest recheck, not a busy loop


async def test_a_freed_slot_wakes_the_job_waiting_for_it_before_its_recheck(
    api: httpx.AsyncClient,
    queue: JobQueue,
    settings: Settings,
    start_worker: Callable[..., WorkerProcess],
    redis_client: redis.asyncio.Redis,
) -> None:
    slow_recheck = settings.model_copy(update={"concurrency_recheck_seconds": 4})  # back after 2 to 6 s
    start_worker(worker_settings=slow_recheck)
    holder = (await queue.enqueue(tenant_work, tenant_id="a", seconds=1)).job_id
    await _holding_a_slot(redis_client, "a")
    waiting = (await queue.enqueue(tenant_work, tenant_id="a", seconds=0)).job_id
    await wait_for_status(api, waiting, {"deferred"})

    first, second = [await wait_for_status(api, j, FINAL, timeout=30) for j in (holder, waiting)]

    handoff = _at(second["started_at"]) - _at(first["finished_at"])
    assert handoff.total_seconds() < 0.9  # not its recheck (2 s at the soonest): the freed slot woke it
    assert (second["status"], second["try"]) == ("complete", 1)


def _at(iso: object) -> datetime:
    return datetime.fromisoformat(str(iso))


async def test_a_slot_held_by_a_killed_worker_frees_itself(
    api: httpx.AsyncClient,
    queue: JobQueue,
    rechecking: Settings,
    start_worker: Callable[..., WorkerProcess],
    redis_client: redis.asyncio.Redis,
) -> None:
    # Leases of 1.5 s; the killed worker's own job is not run again before the test ends.
    short_lease = rechecking.model_copy(
        update={"concurrency_lease_seconds": 1.5, "crash_recovery_seconds": 60}
    )
    doomed = start_worker(worker_settings=short_lease)
    stuck = (await queue.enqueue(tenant_work, tenant_id="a", seconds=120)).job_id
    await _holding_a_slot(redis_client, "a")
    doomed.kill()
    start_worker(worker_settings=short_lease)

    later = (await queue.enqueue(tenant_work, tenant_id="a", seconds=0.1)).job_id

    done = await wait_for_status(api, later, FINAL, timeout=PROCESS_START_SECONDS)
    assert done["status"] == "complete"
    assert (await api.get(f"/jobs/{stuck}")).json()["status"] == "in_progress"  # never released its slot
    slots = await wait_for(
        lambda: _no_slots_left(redis_client), timeout=5, what="the finished job's slot to be released"
    )
    assert slots


async def _no_slots_left(redis_client: redis.asyncio.Redis) -> bool:
    held = [await redis_client.zcard(key) async for key in redis_client.scan_iter(_LEASES)]
    return not any(held)


def test_a_cap_naming_no_parameter_is_refused_where_the_job_is_declared() -> None:
    with pytest.raises(TypeError, match="not parameters"):

        @job(concurrency=PerKey("tenant", limit=2))
        async def typo(ctx: AnyContext, tenant_id: str) -> None: ...


def test_a_cap_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="limit"):
        PerKey("tenant_id", limit=0)
