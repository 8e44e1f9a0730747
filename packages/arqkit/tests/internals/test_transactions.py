"""Transactions made in one loop turn leave in one write (arqkit/internals/transactions.py), each
still atomic, each with its own answer; this relies on redis-py's `Pipeline._execute_transaction`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio
from redis.exceptions import ResponseError

from arqkit.internals.connection import create_worker_redis
from arqkit.internals.wakeup import WakeableRedis
from tests.service.settings import Settings


@pytest.fixture
async def worker_pool(settings: Settings, redis_client: redis.asyncio.Redis) -> AsyncIterator[WakeableRedis]:
    pool = create_worker_redis(settings)
    yield pool
    await pool.aclose()


async def _set_and_read(pool: WakeableRedis, n: int) -> list[object]:
    async with pool.pipeline(transaction=True) as pipe:
        pipe.set(f"test:key:{n}", n)
        pipe.incr("test:counter")
        pipe.get(f"test:key:{n}")
        result: list[object] = await pipe.execute()
        return result


async def test_concurrent_transactions_each_get_their_own_answers(worker_pool: WakeableRedis) -> None:
    answers = await asyncio.gather(*(_set_and_read(worker_pool, n) for n in range(20)))

    assert [answer[0] for answer in answers] == [True] * 20
    assert sorted(int(str(answer[1])) for answer in answers) == list(range(1, 21))
    assert [answer[2] for answer in answers] == [str(n).encode() for n in range(20)]


async def test_an_error_in_one_transaction_leaves_the_others_of_its_write_alone(
    worker_pool: WakeableRedis, redis_client: redis.asyncio.Redis
) -> None:
    await redis_client.set("test:text", "not a number")

    async def failing() -> None:
        async with worker_pool.pipeline(transaction=True) as pipe:
            pipe.incr("test:text")
            await pipe.execute()

    results = await asyncio.gather(failing(), _set_and_read(worker_pool, 7), return_exceptions=True)

    assert isinstance(results[0], ResponseError)
    assert results[1] == [True, 1, b"7"]


async def test_transactions_of_one_loop_turn_share_one_write(
    worker_pool: WakeableRedis, redis_client: redis.asyncio.Redis
) -> None:
    await _set_and_read(worker_pool, 0)  # the pool's first connection exists now
    before = await redis_client.info("stats")

    await asyncio.gather(*(_set_and_read(worker_pool, n) for n in range(1, 11)))

    after = await redis_client.info("stats")
    assert after["total_connections_received"] == before["total_connections_received"]  # one connection
