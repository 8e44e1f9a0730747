"""The API pool's request budget (`arqkit/internals/budget.py`) and the redis-py behaviour it relies on."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio

from arqkit import deadline
from arqkit.internals.connection import create_api_redis
from tests.service.settings import Settings


async def test_the_api_pool_hands_out_connections_of_its_budgeted_class(
    settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    """redis-py builds each connection from `pool.connection_class` and hands it out via `get_connection`."""
    api_redis = create_api_redis(settings)
    try:
        connection = await api_redis.connection_pool.get_connection()
        await api_redis.connection_pool.release(connection)
    finally:
        await api_redis.aclose()

    assert "BudgetedConnection" in [cls.__name__ for cls in type(connection).__mro__]  # under hiredis packing


async def test_a_command_that_outlives_the_budget_fails_and_its_connection_is_not_reused(
    settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    api_redis = create_api_redis(settings)
    try:
        with deadline.budget(0.2), pytest.raises(deadline.BudgetExhausted):
            await api_redis.blpop(["nothing-comes"], timeout=1)  # type: ignore[misc]  # redis-py's union
        await redis_client.rpush("nothing-comes", "late")  # type: ignore[misc]  # what the cut-off BLPOP would have read

        answer = await asyncio.wait_for(api_redis.ping(), 1)
    finally:
        await api_redis.aclose()

    assert answer is True
    assert await redis_client.llen("nothing-comes") == 1  # type: ignore[misc]


async def test_each_answer_renews_the_budget_so_long_work_on_a_healthy_redis_completes(
    settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    """The budget bounds waiting on a silent Redis, not an operator's long request (a big replay)."""
    api_redis = create_api_redis(settings)
    try:
        with deadline.budget(0.1):
            loop = asyncio.get_running_loop()
            started = loop.time()
            answers = 0
            while loop.time() - started < 0.5:  # five budgets' worth of calls
                answers += bool(await api_redis.ping())
                await asyncio.sleep(0.01)
    finally:
        await api_redis.aclose()

    assert answers > 10
