"""internals/claims.py against a real Redis: a claim is shortened, a dead worker's long claim capped, a
try given back. The arq behaviour they rewrite is pinned in test_arq_contract.py."""

from __future__ import annotations

import time

import redis.asyncio

from arqkit import keys
from arqkit.internals.batch_claim import ClaimPolicy
from arqkit.internals.claims import cap_claims, claim_seconds, refund_try, renewal_seconds, shorten_claim
from arqkit.internals.connection import create_worker_redis
from arqkit.testing import wait_for
from tests.service.settings import Settings

QUEUE = "arq:queue"
OUR_CLAIM = b"0123456789abcdef:1"  # lua/claim.lua's value: the worker's token, the try


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
    await redis_client.psetex(keys.in_progress("left-by-a-dead-worker"), 610_000, OUR_CLAIM)
    await redis_client.psetex(keys.in_progress("fresh"), 2_000, OUR_CLAIM)
    await redis_client.psetex(keys.in_progress("deferred"), 610_000, OUR_CLAIM)

    capped = await cap_claims(redis_client, QUEUE, 3)

    assert capped == 1
    assert await redis_client.pttl(keys.in_progress("left-by-a-dead-worker")) <= 3000
    assert await redis_client.pttl(keys.in_progress("deferred")) > 600_000


async def test_cap_claims_never_shortens_a_claim_another_kind_of_worker_made(
    redis_client: redis.asyncio.Redis,
) -> None:
    """A stock arq worker claims with `1` for job_timeout + 10 s and renews nothing: cut short, its
    running job would start again on one of ours (tests/e2e/test_stock_arq.py runs both)."""
    await redis_client.zadd(QUEUE, {"stock-arq": 1, "someone-else": 2})
    await redis_client.psetex(keys.in_progress("stock-arq"), 310_000, b"1")
    await redis_client.psetex(keys.in_progress("someone-else"), 310_000, b"worker-7:1")

    capped = await cap_claims(redis_client, QUEUE, 3)

    assert capped == 0
    assert await redis_client.pttl(keys.in_progress("stock-arq")) > 300_000
    assert await redis_client.pttl(keys.in_progress("someone-else")) > 300_000


async def test_cap_claims_recognises_the_claims_the_batch_claim_makes(
    settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    pool = create_worker_redis(settings)
    pool.claim_in_batches(ClaimPolicy(max_jobs=1, claim_seconds=600, meta_ttl_seconds=60))
    assert pool.claims is not None
    await redis_client.zadd(QUEUE, {"claimed-long": 1})
    await pool.claims.claim(pool, QUEUE, int(time.time() * 1000), 0, 1)
    await pool.aclose()

    capped = await cap_claims(redis_client, QUEUE, 3)

    assert capped == 1
    assert await redis_client.pttl(keys.in_progress("claimed-long")) <= 3000


async def test_one_worker_of_a_queue_sweeps_the_claims_per_heartbeat_interval(
    redis_client: redis.asyncio.Redis,
) -> None:
    """Every worker's heartbeat asks; within an interval only the first sweeps (issue 24: with a backlog
    each sweep reads up to DUE_JOBS_CHECKED keys, so W sweeping workers made Redis's work grow with W)."""
    await redis_client.zadd(QUEUE, {"left-by-a-dead-worker": 1, "another": 2})
    await redis_client.psetex(keys.in_progress("left-by-a-dead-worker"), 610_000, OUR_CLAIM)

    assert await cap_claims(redis_client, QUEUE, 3, every_seconds=0.3) == 1
    await redis_client.psetex(keys.in_progress("another"), 610_000, OUR_CLAIM)
    assert await cap_claims(redis_client, QUEUE, 3, every_seconds=0.3) == 0  # another worker, same interval
    assert await redis_client.pttl(keys.in_progress("another")) > 600_000

    async def next_interval() -> bool:
        return await cap_claims(redis_client, QUEUE, 3, every_seconds=0.3) == 1

    await wait_for(next_interval, timeout=5)
    assert await redis_client.pttl(keys.in_progress("another")) <= 3000


async def test_refund_try_gives_back_the_try_arq_counted(redis_client: redis.asyncio.Redis) -> None:
    await redis_client.set(keys.retry("j"), 2)

    await refund_try(redis_client, "j")

    assert await redis_client.get(keys.retry("j")) == b"1"


def test_by_default_a_dead_workers_job_is_read_again_within_crash_recovery_seconds() -> None:
    """The claim expires, then the next read of an idle worker (at most the idle wait later) takes it."""
    settings = Settings(_env_file=None)

    assert settings.crash_recovery_seconds == 15
    assert claim_seconds(settings) + settings.worker_idle_wait_seconds <= settings.crash_recovery_seconds
    assert claim_seconds(settings) >= 2 * renewal_seconds(settings)  # a live worker renews it in time


def test_a_claim_outlives_two_renewals_whatever_the_idle_wait() -> None:
    settings = Settings(_env_file=None, crash_recovery_seconds=3, worker_idle_wait_seconds=5)

    assert claim_seconds(settings) == 2 * renewal_seconds(settings)
