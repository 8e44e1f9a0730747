"""A flow step's result and its flow's advance are one write (internals/result_tap.py, lua/flow_step.lua):
the transaction that stores the result carries the advance, so a worker killed before it runs leaves
neither, and one killed after leaves both. (The worker's finish.lua path: tests/test_flows.py, SIGKILL.)"""

from __future__ import annotations

from typing import Any

import redis.asyncio
from arq.jobs import serialize_result
from arq.worker import JobExecutionFailed

from arqkit import flows, keys
from arqkit.flows import chain, step
from arqkit.internals.connection import create_worker_redis
from arqkit.internals.result_tap import ResultTap
from arqkit.serializer import META_KWARG
from tests.service.jobs import record_step
from tests.service.registry import REGISTRY
from tests.service.settings import Settings


async def _two_step_flow(settings: Settings, redis_client: redis.asyncio.Redis) -> tuple[str, str, str]:
    flow_id, _ = await flows.start(
        redis_client,
        settings,
        chain(step(record_step, "t", "a"), step(record_step, "t", "b")),
        registry=REGISTRY,
    )
    fields = {k.decode(): v.decode() for k, v in (await redis_client.hgetall(keys.flow(flow_id))).items()}  # type: ignore[misc]
    first, second = sorted(
        (name[3:] for name in fields if name.startswith("st:")), key=lambda i: fields[f"stage:{i}"]
    )
    return flow_id, first, second


def _result(tap: ResultTap, job_id: str, flow_id: str) -> bytes:
    kwargs: dict[str, Any] = {META_KWARG: {"flow": flow_id, "flow_step": job_id}}
    raw = serialize_result(
        "record_step", (), kwargs, 1, 10, True, "a", 11, 12, "ref", "q", job_id, serializer=tap.serialize
    )
    assert raw is not None
    return raw


async def _finish(settings: Settings, tap: ResultTap, job_id: str, raw: bytes, run: bool) -> None:
    pool = create_worker_redis(settings)
    pool.pipeline_factory = tap.pipeline
    try:
        async with pool.pipeline(transaction=True) as tr:
            tr.set(keys.result(job_id), raw)
            tr.delete(keys.job(job_id))
            if run:
                await tr.execute()
    finally:
        await pool.aclose()


async def test_the_transaction_storing_a_steps_result_advances_its_flow(
    settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    flow_id, first, second = await _two_step_flow(settings, redis_client)
    tap = ResultTap()

    await _finish(settings, tap, first, _result(tap, first, flow_id), run=True)

    assert await redis_client.hget(keys.flow(flow_id), f"st:{first}") == b"complete"  # type: ignore[misc]
    assert await redis_client.exists(keys.job(second))  # the next stage is enqueued, in the same write
    assert await redis_client.zscore(settings.queue_name, second) is not None


async def test_a_finish_that_never_runs_leaves_neither_the_result_nor_the_advance(
    settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    """A worker killed before its finish's EXEC: the step runs again, and its finish then does both."""
    flow_id, first, second = await _two_step_flow(settings, redis_client)
    tap = ResultTap()

    await _finish(settings, tap, first, _result(tap, first, flow_id), run=False)

    assert not await redis_client.exists(keys.result(first))
    assert await redis_client.hget(keys.flow(flow_id), f"st:{first}") == b"queued"  # type: ignore[misc]
    assert not await redis_client.exists(keys.job(second))


async def test_a_steps_second_end_changes_nothing(
    settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    flow_id, first, second = await _two_step_flow(settings, redis_client)
    tap = ResultTap()
    await _finish(settings, tap, first, _result(tap, first, flow_id), run=True)
    await redis_client.delete(keys.job(second), keys.result(first))
    await redis_client.zrem(settings.queue_name, second)

    await _finish(settings, tap, first, _result(tap, first, flow_id), run=True)  # delivered again

    assert not await redis_client.exists(keys.job(second))  # not enqueued a second time


def _expired_result(tap: ResultTap, job_id: str) -> bytes:
    """What arq stores for a job whose key expired before it ran: no function, no arguments, no meta."""
    raw = serialize_result(
        "<unknown>", (), {}, 1, 0, False, JobExecutionFailed("job expired"), 11, 12, "ref", "q", job_id,
        serializer=tap.serialize,
    )  # fmt: skip
    assert raw is not None
    return raw


async def test_a_step_that_expired_unrun_advances_its_flow_from_its_link(
    settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    flow_id, first, second = await _two_step_flow(settings, redis_client)
    tap = ResultTap()

    await _finish(settings, tap, first, _expired_result(tap, first), run=True)

    assert await redis_client.hget(keys.flow(flow_id), f"st:{first}") == b"failed"  # type: ignore[misc]
    assert await redis_client.hget(keys.flow(flow_id), f"st:{second}") == b"cancelled"  # type: ignore[misc]
    assert await redis_client.hexists(keys.flow(flow_id), "finished_ms")  # type: ignore[misc]


async def test_an_expired_job_of_no_flow_changes_nothing(
    settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    tap = ResultTap()

    await _finish(settings, tap, "not-a-step", _expired_result(tap, "not-a-step"), run=True)

    assert await redis_client.exists(keys.result("not-a-step"))  # its result and dead letter, nothing else
    assert not await redis_client.keys(keys.flow("*")) + await redis_client.keys(keys.flow_step("*"))


async def test_a_counted_end_renews_the_steps_links(
    settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    flow_id, first, second = await _two_step_flow(settings, redis_client)
    tap = ResultTap()
    for link in (keys.flow_step(first), keys.flow_step(second)):
        await redis_client.pexpire(link, 5_000)  # as if the flow had begun days ago

    await _finish(settings, tap, first, _result(tap, first, flow_id), run=True)

    keep_ms = settings.flow_keep_seconds * 1000
    for link in (keys.flow_step(first), keys.flow_step(second)):
        assert await redis_client.pttl(link) > keep_ms - 60_000
        assert await redis_client.pttl(link) >= await redis_client.pttl(keys.flow(flow_id))  # outlive it
