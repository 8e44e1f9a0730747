"""The enqueuer's context (`_meta`: request id, trace context, replay link) rides beside the job's
arguments, so a stock arq worker can run our jobs, and still reaches our `@job` wrapper, also from a
job queued by an earlier version with the context among its arguments."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
import redis.asyncio
import structlog

from arqkit import Registry, job, keys
from arqkit.internals.layout import read_job
from arqkit.job import AnyContext as Ctx
from arqkit.serializer import META_KWARG, MalformedPayload, deserialize
from arqkit.testing import JobKit
from tests.service.settings import Settings


@job()
async def tells_its_request_id(ctx: Ctx, word: str) -> dict[str, Any]:
    """What the wrapper bound from the job's meta, and the arguments the job itself got."""
    return {"request_id": structlog.contextvars.get_contextvars().get("request_id"), "word": word}


@pytest.fixture
async def kit(settings: Settings, redis_client: redis.asyncio.Redis) -> AsyncIterator[JobKit]:
    kit = JobKit(settings, Registry([tells_its_request_id]))
    yield kit
    await kit.aclose()


async def _enqueue_with_request_id(kit: JobKit, request_id: str) -> str:
    structlog.contextvars.bind_contextvars(request_id=request_id)
    try:
        return (await kit.queue.enqueue(tells_its_request_id, word="hi")).job_id
    finally:
        structlog.contextvars.unbind_contextvars("request_id")


async def test_the_meta_is_stored_beside_the_arguments_not_among_them(
    kit: JobKit, redis_client: redis.asyncio.Redis
) -> None:
    job_id = await _enqueue_with_request_id(kit, "req-beside")

    stored = orjson.loads(await redis_client.get(keys.job(job_id)) or b"{}")

    assert stored["k"] == {"word": "hi"}
    assert stored["meta"] == {"request_id": "req-beside"}


async def test_the_job_gets_its_meta_and_only_its_own_arguments(kit: JobKit) -> None:
    job_id = await _enqueue_with_request_id(kit, "req-new")

    [run] = await kit.drain()

    assert (run.job_id, run.status) == (job_id, "complete")
    assert run.result == {"request_id": "req-new", "word": "hi"}


async def test_a_job_queued_with_its_meta_among_its_arguments_still_runs_with_it(
    kit: JobKit, redis_client: redis.asyncio.Redis, settings: Settings
) -> None:
    """The shape an earlier version wrote: `_meta` inside `k`."""
    kwargs = {"word": "hi", META_KWARG: {"request_id": "req-old"}}
    old: dict[str, Any] = {"t": None, "f": "tells_its_request_id", "a": [], "k": kwargs, "et": 0}
    await redis_client.set(keys.job("queued-by-the-old-version"), orjson.dumps(old))
    await redis_client.zadd(settings.queue_name, {"queued-by-the-old-version": 1})

    [run] = await kit.drain()

    assert (run.job_id, run.status) == ("queued-by-the-old-version", "complete")
    assert run.result == {"request_id": "req-old", "word": "hi"}


async def test_what_is_queued_shows_the_arguments_without_the_meta(kit: JobKit) -> None:
    await _enqueue_with_request_id(kit, "req-listed")

    [queued] = await kit.enqueued()

    assert queued.kwargs == {"word": "hi"}


def test_readers_see_the_meta_among_the_kwargs_as_before() -> None:
    raw = orjson.dumps({"t": 1, "f": "f", "a": [], "k": {"x": 1}, "et": 0, "meta": {"request_id": "r"}})

    job = read_job(raw)

    assert job is not None
    assert job.kwargs == {"x": 1, META_KWARG: {"request_id": "r"}}


def test_a_meta_that_is_not_an_object_makes_the_payload_unreadable() -> None:
    with pytest.raises(MalformedPayload, match="meta"):
        deserialize(orjson.dumps({"t": 1, "f": "f", "a": [], "k": {}, "et": 0, "meta": [1]}))
