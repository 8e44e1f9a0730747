"""REDIS_MIN_REPLICAS: the API answers 202 only once that many replicas have the job, else 503; a retry
with the same Idempotency-Key then finds the job the refused request wrote, instead of a second one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import redis.asyncio

from arqkit import ReplicationTimeout, flows, keys
from arqkit.client import JobQueue
from arqkit.redis_server import RedisServer
from tests.service.app import create_app
from tests.service.jobs import notify
from tests.service.registry import REGISTRY
from tests.service.settings import Settings
from tests.support import wait_for
from tests.support.sentinel import replicas_acknowledging


@pytest.fixture
def primary() -> Iterator[RedisServer]:
    with RedisServer(extra_args=["--repl-diskless-sync-delay", "0"]) as server:  # default: 5 s per sync
        yield server


@pytest.fixture
def replicated(settings: Settings, primary: RedisServer) -> Settings:
    return settings.model_copy(update={"redis_url": primary.url, "redis_min_replicas": 1})


async def _start_replica(primary: RedisServer) -> RedisServer:
    replica = RedisServer(extra_args=["--replicaof", "127.0.0.1", str(primary.port)])
    replica.start()

    async def online() -> bool:
        return await asyncio.to_thread(replicas_acknowledging, primary) == 1

    await wait_for(online, what="the replica to acknowledge writes")
    return replica


@pytest.fixture
async def queue(replicated: Settings) -> AsyncIterator[JobQueue]:
    job_queue = JobQueue.connect(replicated, REGISTRY)
    yield job_queue
    await job_queue.aclose()


async def test_with_a_replica_the_job_is_on_it_when_enqueue_returns(
    queue: JobQueue, primary: RedisServer
) -> None:
    replica = await _start_replica(primary)
    try:
        enqueued = await queue.enqueue(notify, email="ada@example.com", name="Ada")
        on_replica = redis.asyncio.Redis.from_url(replica.url)
        assert await on_replica.exists(keys.job(enqueued.job_id)) == 1  # at once: no waiting here
        await on_replica.aclose()
    finally:
        replica.stop()


async def test_without_enough_replicas_enqueue_raises_though_the_primary_has_the_job(
    queue: JobQueue, primary: RedisServer
) -> None:
    with pytest.raises(ReplicationTimeout, match="0 of 1 replicas"):
        await queue.with_options(job_id="job-1").enqueue(notify, email="a@example.com", name="A")

    assert await queue.redis.exists(keys.job("job-1")) == 1


async def test_without_enough_replicas_a_flow_raises_though_the_primary_has_it(
    queue: JobQueue, primary: RedisServer
) -> None:
    with pytest.raises(ReplicationTimeout, match="0 of 1 replicas"):
        await queue.enqueue_flow(flows.group(flows.step(notify, email="a@example.com", name="A")), key="k")

    assert await queue.redis.zcard(queue.settings.queue_name) == 1


async def test_the_api_answers_503_then_the_same_job_once_a_replica_has_it(
    replicated: Settings, primary: RedisServer
) -> None:
    app = create_app(replicated)
    body, headers = {"amount_cents": 500, "currency": "EUR"}, {"Idempotency-Key": "order-7"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as api:
            refused = await api.post("/charges/pay-7", json=body, headers=headers)
            assert refused.status_code == 503
            assert refused.headers["Retry-After"] == "1"
            assert "replicas" in refused.json()["detail"]

            replica = await _start_replica(primary)
            try:
                accepted = await api.post("/charges/pay-7", json=body, headers=headers)
            finally:
                replica.stop()

    assert accepted.status_code == 202
    client = redis.asyncio.Redis.from_url(primary.url)
    assert await client.zrange(replicated.queue_name, 0, -1) == [accepted.json()["job_id"].encode()]
    await client.aclose()
