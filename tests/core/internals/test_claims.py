"""internals/claims.py against a real Redis: a claim is shortened, a dead worker's long claim capped, a
try given back. The arq behaviour they rewrite is pinned in test_arq_contract.py."""

from __future__ import annotations

import redis.asyncio

from jobs.core import keys
from jobs.core.internals.claims import cap_claims, refund_try, shorten_claim

QUEUE = "arq:queue"


async def test_shorten_claim_sets_the_in_progress_mark_to_the_given_seconds(
    redis_client: redis.asyncio.Redis,
) -> None:
    await redis_client.psetex(keys.in_progress("j"), 610_000, b"1")

    async with redis_client.pipeline(transaction=False) as pipe:
        shorten_claim(pipe, "j", 3)
        await pipe.execute()

    assert 0 < await redis_client.pttl(keys.in_progress("j")) <= 3000


async def test_cap_claims_caps_only_due_jobs_whose_claim_is_longer_than_the_cap(
    redis_client: redis.asyncio.Redis,
) -> None:
    await redis_client.zadd(QUEUE, {"left-by-a-dead-worker": 1, "fresh": 2, "deferred": 2**50})
    await redis_client.psetex(keys.in_progress("left-by-a-dead-worker"), 610_000, b"1")
    await redis_client.psetex(keys.in_progress("fresh"), 2_000, b"1")
    await redis_client.psetex(keys.in_progress("deferred"), 610_000, b"1")

    capped = await cap_claims(redis_client, QUEUE, 3)

    assert capped == 1
    assert await redis_client.pttl(keys.in_progress("left-by-a-dead-worker")) <= 3000
    assert await redis_client.pttl(keys.in_progress("deferred")) > 600_000


async def test_refund_try_gives_back_the_try_arq_counted(redis_client: redis.asyncio.Redis) -> None:
    await redis_client.set(keys.retry("j"), 2)

    await refund_try(redis_client, "j")

    assert await redis_client.get(keys.retry("j")) == b"1"
