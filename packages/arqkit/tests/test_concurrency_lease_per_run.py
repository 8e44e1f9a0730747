"""Issue 20, finding 7: a concurrency slot's lease belongs to one run of a job, not to its job id, so a
late run (its lease ran out during a partition, the job was re-claimed) never frees or shares the slot
of the run that replaced it."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio

from arqkit import JobContext, concurrency_slot, keys
from arqkit.job import Deferred
from tests.service.settings import Settings

SLOT = "resize_image"


def _run(settings: Settings, redis: redis.asyncio.Redis, job_id: str, job_try: int) -> JobContext[Any, Any]:
    return JobContext(job_id, job_try, settings.queue_name, settings, None, redis, {})


async def _every_lease_runs_out(redis: redis.asyncio.Redis) -> None:
    """What a partition longer than the lease does: the holder could not renew it."""
    key = keys.concurrency_leases(SLOT)
    for holder in await redis.zrange(key, 0, -1):
        await redis.zadd(key, {holder: 0})


async def test_a_late_run_leaving_its_slot_does_not_free_the_slot_of_the_run_that_replaced_it(
    settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    late = concurrency_slot(_run(settings, redis_client, "job-1", 1), SLOT, 1)
    await late.__aenter__()
    await _every_lease_runs_out(redis_client)
    live = concurrency_slot(_run(settings, redis_client, "job-1", 2), SLOT, 1)  # the job, claimed again
    await live.__aenter__()

    await late.__aexit__(None, None, None)  # the late run ends and releases what it believes is its lease

    with pytest.raises(Deferred):  # the one slot is still the live run's
        async with concurrency_slot(_run(settings, redis_client, "job-2", 1), SLOT, 1):
            pass
    await live.__aexit__(None, None, None)
    assert await redis_client.zcard(keys.concurrency_leases(SLOT)) == 0


async def test_a_newer_run_of_the_same_job_does_not_share_the_slot_a_late_run_still_holds(
    settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    async with concurrency_slot(_run(settings, redis_client, "job-1", 1), SLOT, 1):
        with pytest.raises(Deferred):
            async with concurrency_slot(_run(settings, redis_client, "job-1", 2), SLOT, 1):
                pass
