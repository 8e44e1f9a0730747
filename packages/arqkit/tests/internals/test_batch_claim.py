"""The worker claims in batches (arqkit/internals/batch_claim.py) and arq's loop does not notice.

arq's own Worker runs the jobs; the pool answers its claim and its run_job reads from one Lua call. If
arq changes the commands it sends, its claim goes to Redis again (a WATCH shows up) or a job fails.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import redis.asyncio
from arq.connections import ArqRedis
from arq.worker import Retry, Worker, func

from arqkit import keys
from arqkit.internals.batch_claim import ClaimPolicy
from arqkit.internals.connection import create_worker_redis
from arqkit.internals.enqueue import Enqueuer
from arqkit.internals.wakeup import WakeableRedis
from arqkit.serializer import deserialize, serialize
from tests.service.settings import Settings
from tests.support import wait_for

POLICY = ClaimPolicy(max_jobs=3, claim_seconds=3, meta_ttl_seconds=60)
FAR_FUTURE_MS = 2**52


async def noted(ctx: dict[str, Any], value: int) -> int:
    await ctx["redis"].rpush("test:ran", f"{ctx['job_id']}:{ctx['job_try']}:{value}")
    return value


@pytest.fixture
async def worker_pool(settings: Settings, redis_client: redis.asyncio.Redis) -> AsyncIterator[WakeableRedis]:
    pool = create_worker_redis(settings)
    pool.idle_wait_seconds = 0.05
    pool.claim_in_batches(POLICY)
    yield pool
    await pool.aclose()


async def _commands(client: redis.asyncio.Redis, name: str) -> int:
    """How many `name` commands Redis ran (a call that failed, e.g. an EVALSHA of an unknown script, not)."""
    stats: dict[str, dict[str, int]] = await client.info("commandstats")
    stat = stats.get(f"cmdstat_{name}", {})
    return int(stat.get("calls", 0)) - int(stat.get("failed_calls", 0))


async def _scripts_run(client: redis.asyncio.Redis) -> int:
    return await _commands(client, "eval") + await _commands(client, "evalsha")


async def _read(pool: WakeableRedis, queue: str) -> list[bytes]:
    ids = await pool.zrangebyscore(queue, min=float("-inf"), max=FAR_FUTURE_MS, start=0, num=100)
    return list(ids)


def _count_reads(pool: WakeableRedis, monkeypatch: pytest.MonkeyPatch) -> list[None]:
    """One entry per run of the claim script (lua/claim.lua) from now on."""
    assert pool.claims is not None
    script = pool.claims._script
    reads: list[None] = []

    async def counted(**kwargs: Any) -> Any:
        reads.append(None)
        return await script(**kwargs)

    monkeypatch.setattr(pool.claims, "_script", counted)
    return reads


async def test_arqs_own_worker_runs_batch_claimed_jobs_without_its_claim_round_trips(
    settings: Settings,
    worker_pool: WakeableRedis,
    pool: ArqRedis,
    redis_client: redis.asyncio.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for n in range(7):
        await Enqueuer(pool).enqueue_job("noted", n, _job_id=f"job-{n}")
    watches_before = await _commands(redis_client, "watch")
    scripts_before = await _scripts_run(redis_client)
    reads = _count_reads(worker_pool, monkeypatch)

    await _noted_worker(settings, worker_pool).main()

    ran = sorted(raw.decode() for raw in await redis_client.lrange("test:ran", 0, -1))  # type: ignore[misc]
    assert ran == [f"job-{n}:1:{n}" for n in range(7)]  # each once, on its first try
    assert await _commands(redis_client, "watch") == watches_before  # arq's claim never reached Redis
    assert (
        await _scripts_run(redis_client) == scripts_before + len(reads) + 7
    )  # each finish checked its claim
    assert worker_pool.claims is not None
    assert worker_pool.claims.claims == {}
    assert not worker_pool.running


async def test_a_finish_runs_after_redis_forgets_its_script(
    settings: Settings, worker_pool: WakeableRedis, pool: ArqRedis, redis_client: redis.asyncio.Redis
) -> None:
    await Enqueuer(pool).enqueue_job("noted", 1, _job_id="before")
    await _noted_worker(settings, worker_pool).main()
    await redis_client.script_flush()  # a restarted Redis: the finish's EVALSHA gets NOSCRIPT
    await Enqueuer(pool).enqueue_job("noted", 2, _job_id="after")

    await _noted_worker(settings, worker_pool).main()

    assert await _ran(redis_client) == ["before:1:1", "after:1:2"]
    assert await redis_client.exists(keys.result("after"))
    assert not await redis_client.exists(keys.in_progress("after"), keys.job("after"))
    assert await redis_client.zscore(settings.queue_name, "after") is None


def _noted_worker(settings: Settings, pool: WakeableRedis) -> Worker:
    return Worker(
        [func(noted, name="noted")],
        redis_pool=pool,
        queue_name=settings.queue_name,
        burst=True,
        handle_signals=False,
        max_jobs=POLICY.max_jobs,
        poll_delay=0.01,
        allow_abort_jobs=True,
        job_serializer=serialize,
        job_deserializer=deserialize,
    )


async def test_a_read_claims_no_more_jobs_than_the_worker_has_free_slots(
    settings: Settings, worker_pool: WakeableRedis, pool: ArqRedis, redis_client: redis.asyncio.Redis
) -> None:
    for n in range(5):
        await Enqueuer(pool).enqueue_job("noted", n, _job_id=f"job-{n}")

    ids = await _read(worker_pool, settings.queue_name)

    assert len(ids) == POLICY.max_jobs
    for raw in ids:
        claim_ms = await redis_client.pttl(keys.in_progress(raw.decode()))
        assert 0 < claim_ms <= POLICY.claim_seconds * 1000  # short from the start: crash recovery holds
        assert await redis_client.get(keys.retry(raw.decode())) == b"1"
        assert raw.decode() in worker_pool.running  # the heartbeat renews it


async def test_claims_arq_did_not_start_are_given_back_at_the_next_read(
    settings: Settings, worker_pool: WakeableRedis, pool: ArqRedis, redis_client: redis.asyncio.Redis
) -> None:
    await Enqueuer(pool).enqueue_job("noted", 1, _job_id="never-started")
    await redis_client.zadd(keys.ABORT_SET, {"never-started": 1})
    assert await _read(worker_pool, settings.queue_name) == [b"never-started"]
    assert not await redis_client.zscore(keys.ABORT_SET, "never-started")

    await pool.zadd(settings.queue_name, {"never-started": FAR_FUTURE_MS})  # not due: the next read skips it
    await _read(worker_pool, settings.queue_name)

    assert not await redis_client.exists(keys.in_progress("never-started"))
    assert await redis_client.get(keys.retry("never-started")) == b"0"  # its try not spent
    assert await redis_client.zscore(keys.ABORT_SET, "never-started")  # its abort still asked for
    assert "never-started" not in worker_pool.running


async def test_on_shutdown_claims_whose_jobs_never_began_are_given_back(
    settings: Settings, worker_pool: WakeableRedis, pool: ArqRedis, redis_client: redis.asyncio.Redis
) -> None:
    await Enqueuer(pool).enqueue_job("noted", 1, _job_id="claimed")
    await _read(worker_pool, settings.queue_name)
    assert worker_pool.claims is not None

    await worker_pool.claims.give_back_unstarted(worker_pool)

    assert not await redis_client.exists(keys.in_progress("claimed"))
    assert await redis_client.get(keys.retry("claimed")) == b"0"


async def test_the_read_never_claims_a_job_this_worker_runs_even_if_its_claim_expired(
    settings: Settings, worker_pool: WakeableRedis, pool: ArqRedis
) -> None:
    await Enqueuer(pool).enqueue_job("noted", 1, _job_id="mine")
    worker_pool.running.add("mine")  # e.g. its claim expired during a long Redis outage

    assert await _read(worker_pool, settings.queue_name) == []


async def test_a_job_scored_near_zero_is_answered_a_score_arq_starts_whatever_the_clock_skew(
    settings: Settings, worker_pool: WakeableRedis, pool: ArqRedis, redis_client: redis.asyncio.Redis
) -> None:
    """A score moved onto a worker clock behind Redis's could reach 0, which arq's start_jobs reads as
    "no such job" (`not score`): the claim was made, the job never started (a score of 1, in a test)."""
    await Enqueuer(pool).enqueue_job("noted", 1, _job_id="early")
    await redis_client.zadd(settings.queue_name, {"early": 1})
    seconds, micros = await redis_client.time()
    redis_now_ms = seconds * 1000 + micros // 1000
    assert worker_pool.claims is not None

    ids, _ = await worker_pool.claims.claim(worker_pool, settings.queue_name, redis_now_ms - 5_000, 0, 10)
    claim = worker_pool.claims.take((keys.in_progress("early"),))

    assert ids == [b"early"]
    assert claim is not None
    assert claim.score > 0


async def test_the_read_skips_jobs_other_workers_run_and_checks_them_in_one_call(
    settings: Settings, worker_pool: WakeableRedis, pool: ArqRedis, redis_client: redis.asyncio.Redis
) -> None:
    """Jobs another worker runs stay at the head of the queue (arq's layout); their claims are read with
    one MGET per window, not an EXISTS each (issue 24: those grew with the number of workers)."""
    for n in range(6):
        await Enqueuer(pool).enqueue_job("noted", n, _job_id=f"job-{n}")
    await redis_client.psetex(keys.in_progress("job-0"), 60_000, b"1")  # a stock arq worker's
    await redis_client.psetex(keys.in_progress("job-2"), 60_000, b"0123456789abcdef:1")  # one of ours
    exists, mget = await _commands(redis_client, "exists"), await _commands(redis_client, "mget")

    ids = await _read(worker_pool, settings.queue_name)

    assert ids == [b"job-1", b"job-3", b"job-4"]
    assert await redis_client.get(keys.in_progress("job-0")) == b"1"  # untouched
    assert await _commands(redis_client, "exists") == exists + 1  # the paused flag (queue_head.lua)
    assert await _commands(redis_client, "mget") == mget + 1


async def blocked(ctx: dict[str, Any]) -> int:
    """Try 1 runs until the test lets it end, then asks for a retry; its claim lapses meanwhile, as in a
    Redis outage. Later tries return at once."""
    await ctx["redis"].rpush("test:ran", f"{ctx['job_id']}:{ctx['job_try']}")
    if ctx["job_try"] == 1:
        await ctx["redis"].blpop(["test:finish"], timeout=0)
        raise Retry(defer=60)
    return ctx["job_try"]  # type: ignore[no-any-return]


async def _other_pool(settings: Settings, claim_seconds: float) -> WakeableRedis:
    pool = create_worker_redis(settings)
    pool.idle_wait_seconds = 0.05
    pool.claim_in_batches(ClaimPolicy(max_jobs=3, claim_seconds=claim_seconds, meta_ttl_seconds=60))
    return pool


def _worker(settings: Settings, pool: WakeableRedis, burst: bool = False) -> Worker:
    return Worker(
        [func(blocked, name="blocked")],
        redis_pool=pool,
        queue_name=settings.queue_name,
        burst=burst,
        handle_signals=False,
        poll_delay=0.01,
        job_serializer=serialize,
        job_deserializer=deserialize,
    )


@asynccontextmanager
async def _lapsed_try(
    settings: Settings, pool: ArqRedis, client: redis.asyncio.Redis, job_id: str
) -> AsyncIterator[Worker]:
    """Worker A runs the job's try 1 on a claim that lapses (in production: Redis away longer than the
    claim, so the heartbeat could not renew it, and the finish was still being retried)."""
    await Enqueuer(pool).enqueue_job("blocked", _job_id=job_id)
    pool_a = await _other_pool(settings, 0.3)
    worker = _worker(settings, pool_a)
    running = asyncio.create_task(worker.main())
    try:
        await wait_for(lambda: _ran(client), what="try 1 to start")
        await wait_for(lambda: _lapsed(client, job_id), what="A's claim to lapse")
        yield worker
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await pool_a.aclose()


async def _finish_late(client: redis.asyncio.Redis, worker: Worker) -> None:
    await client.rpush("test:finish", "go")  # type: ignore[misc]  # try 1 ends: it asks for a retry
    await wait_for(lambda: _finished(worker), what="A's finish")


async def test_a_late_finish_of_a_try_whose_claim_lapsed_leaves_the_job_to_the_worker_that_claimed_it(
    settings: Settings, pool: ArqRedis, redis_client: redis.asyncio.Redis
) -> None:
    pool_b = await _other_pool(settings, 30)
    try:
        async with _lapsed_try(settings, pool, redis_client, "raced") as worker_a:
            assert await _read(pool_b, settings.queue_name) == [b"raced"]  # B claims try 2
            claim_b = await redis_client.get(keys.in_progress("raced"))

            await _finish_late(redis_client, worker_a)

            assert await redis_client.get(keys.in_progress("raced")) == claim_b  # still B's
            assert await redis_client.exists(keys.job("raced"))
            assert await redis_client.zscore(settings.queue_name, "raced") is not None
    finally:
        await pool_b.aclose()


async def test_a_late_retry_of_a_job_another_worker_finished_does_not_queue_it_again(
    settings: Settings, pool: ArqRedis, redis_client: redis.asyncio.Redis
) -> None:
    pool_b = await _other_pool(settings, 30)
    try:
        async with _lapsed_try(settings, pool, redis_client, "done-elsewhere") as worker_a:
            await _worker(settings, pool_b, burst=True).main()  # B runs try 2 to the end
            assert await _ran(redis_client) == ["done-elsewhere:1", "done-elsewhere:2"]

            await _finish_late(redis_client, worker_a)

            # arq's retry finish is a ZINCRBY, which would add the id back with its payload gone: the
            # next claim would fail it as "job expired", over try 2's result.
            assert await redis_client.zscore(settings.queue_name, "done-elsewhere") is None
            assert await redis_client.exists(keys.result("done-elsewhere"))
    finally:
        await pool_b.aclose()


async def test_a_late_finish_whose_job_nobody_claimed_since_still_counts(
    settings: Settings, pool: ArqRedis, redis_client: redis.asyncio.Redis
) -> None:
    async with _lapsed_try(settings, pool, redis_client, "lapsed") as worker_a:
        before = await redis_client.zscore(settings.queue_name, "lapsed")

        await _finish_late(redis_client, worker_a)

        assert await redis_client.zscore(settings.queue_name, "lapsed") != before  # retry: re-scheduled
        assert await redis_client.exists(keys.job("lapsed"))


async def _ran(client: redis.asyncio.Redis) -> list[str]:
    return [raw.decode() for raw in await client.lrange("test:ran", 0, -1)]  # type: ignore[misc]


async def _lapsed(client: redis.asyncio.Redis, job_id: str) -> bool:
    return not await client.exists(keys.in_progress(job_id))


async def _finished(worker: Worker) -> int:
    return worker.jobs_complete + worker.jobs_failed + worker.jobs_retried
