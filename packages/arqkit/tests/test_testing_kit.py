"""The testing kit does not lie: a job goes through the producer's encoding, Redis, and a real worker's
deserializer, ctx, hooks and retry policy; what a test reads back is what the API would show."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import redis.asyncio

from arqkit import JobArgumentsInvalid, JobQueue, Registry, job
from arqkit.job import AnyContext as Ctx
from arqkit.testing import JobKit
from tests.service.context import lifespan
from tests.service.settings import Settings


@job()
async def stamp(ctx: Ctx, at: datetime) -> dict[str, object]:
    settings: Settings = ctx.settings
    return {"type": type(at).__name__, "sink_url": settings.sink_url, "ctx": sorted(ctx.worker)}


@job(priority="bulk")
async def bulk_child(ctx: Ctx, n: int) -> int:
    return n * 2


@job()
async def fan_out(ctx: Ctx, n: int) -> int:
    """Enqueues a bulk job, as a job may: the kit runs it too."""
    queue = JobQueue(ctx.redis, ctx.settings, Registry([bulk_child]))
    await queue.enqueue(bulk_child, n=n)
    return n


@job(max_tries=4, timeout_seconds=0.2)
async def outlives_its_timeout(ctx: Ctx) -> None:
    await asyncio.sleep(5)


REGISTRY = Registry([stamp, bulk_child, fan_out, outlives_its_timeout])


@pytest.fixture
async def kit(settings: Settings, redis_client: redis.asyncio.Redis) -> AsyncIterator[JobKit]:
    kit = JobKit(settings, REGISTRY, lifespan)
    yield kit
    await kit.aclose()


async def test_what_is_queued_is_the_stored_json_the_worker_will_decode(
    kit: JobKit, settings: Settings
) -> None:
    await kit.queue.enqueue(stamp, at=datetime(2026, 12, 1, tzinfo=UTC))

    [queued] = await kit.enqueued()

    assert (queued.function, queued.args, queued.queue) == ("stamp", [], settings.queue_name)
    assert queued.kwargs == {"at": "2026-12-01T00:00:00Z"}  # bytes in Redis, not the object passed


async def test_the_job_runs_with_the_workers_ctx_and_the_kits_settings(
    kit: JobKit, settings: Settings
) -> None:
    run = await kit.run(stamp, at=datetime(2026, 12, 1, tzinfo=UTC))

    assert run.status == "complete"
    assert run.result["type"] == "datetime"
    assert run.result["sink_url"] == settings.sink_url
    assert {"job_id", "job_try", "redis", "settings", "worker_id", "resources"} <= set(run.result["ctx"])


async def test_the_workers_hooks_run_around_each_job(kit: JobKit) -> None:
    run = await kit.run(stamp, at=datetime(2026, 12, 1, tzinfo=UTC))

    status = await kit.queue.status(run.job_id)

    assert status.started_at is not None  # written by the on_job_start hook


async def test_a_value_that_json_cannot_carry_fails_in_the_kit_as_in_production(kit: JobKit) -> None:
    with pytest.raises(JobArgumentsInvalid):
        await kit.run(stamp, at="not a time")  # type: ignore[arg-type]


async def test_drain_runs_every_priority_and_what_the_jobs_enqueue(kit: JobKit, settings: Settings) -> None:
    parent = await kit.run(fan_out, n=21)

    finished = (await kit.admin.recent("complete", 10, None)).items
    [child] = [item for item in finished if item.job_id != parent.job_id]

    assert parent.result == 21
    assert (child.function, child.queue) == ("bulk_child", "bulk")  # the queue by its one name
    assert (await kit.outcome(child.job_id)).result == 42
    assert await kit.enqueued() == []


async def test_a_timeout_is_final_and_dead_lettered_as_by_a_worker(kit: JobKit) -> None:
    run = await kit.run(outlives_its_timeout)

    assert (run.status, run.tries) == ("failed", 1)
    assert run.dead_letter is not None
    assert run.dead_letter.error["type"] == "TimeoutError"


async def test_the_kit_refuses_to_empty_a_production_redis(settings: Settings) -> None:
    production = settings.model_copy(update={"environment": "production"})
    kit = JobKit(production, REGISTRY)
    try:
        with pytest.raises(RuntimeError, match="production"):
            await kit.reset()
    finally:
        await kit.aclose()


async def test_running_a_job_the_registry_lacks_is_a_clear_error_not_a_missing_function(kit: JobKit) -> None:
    @job()
    async def unregistered(ctx: Ctx) -> None: ...

    with pytest.raises(LookupError, match="unregistered is not in the kit's registry"):
        await kit.run(unregistered)
