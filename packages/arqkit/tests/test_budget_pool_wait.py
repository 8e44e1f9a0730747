"""The request budget is spent on Redis only (issue 21, finding 7): waiting for the pool's lock behind
other callers on a healthy Redis (a crowd of long polls) is not counted; waiting behind a connect is."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio

from arqkit import deadline
from arqkit.internals.connection import create_api_redis
from tests.service.settings import Settings


async def hold_lock(pool: redis.asyncio.ConnectionPool, seconds: float, held: asyncio.Event) -> None:
    async with pool._lock:  # what a convoy of checkouts does to a caller that arrives behind it
        held.set()
        await asyncio.sleep(seconds)


@pytest.mark.latency
async def test_waiting_behind_other_checkouts_does_not_spend_the_budget(
    settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    api_redis = create_api_redis(settings)
    try:
        await api_redis.ping()  # one live connection in the pool
        held = asyncio.Event()
        holder = asyncio.create_task(hold_lock(api_redis.connection_pool, 0.6, held))
        await held.wait()
        with deadline.budget(0.3):
            answer = await api_redis.ping()  # before: BudgetExhausted after 0.3 s, a 503
        await holder
    finally:
        await api_redis.aclose()

    assert answer is True


@pytest.mark.latency
async def test_waiting_behind_a_connect_still_spends_it(
    settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    api_redis = create_api_redis(settings)
    pool = api_redis.connection_pool
    try:
        held = asyncio.Event()
        holder = asyncio.create_task(hold_lock(pool, 0.6, held))
        await held.wait()
        pool.connecting += 1  # type: ignore[attr-defined]  # as a connect stuck on a silent Redis
        try:
            with deadline.budget(0.3), pytest.raises(deadline.BudgetExhausted):
                await api_redis.ping()
        finally:
            pool.connecting -= 1  # type: ignore[attr-defined]
        await holder
    finally:
        await api_redis.aclose()
