"""The one-round-trip enqueue (internals/enqueue.py) is arq's `enqueue_job`, to the byte that matters.

arq itself is the oracle: a stock arq worker runs what the script writes, arq's `Job` reads it, and
every dedup case gives the answer `ArqRedis.enqueue_job` gives for the same state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
import redis.asyncio
from arq.connections import ArqRedis
from arq.jobs import Job, JobStatus
from arq.worker import Worker

from arqkit import keys
from arqkit.internals.enqueue import WAKE_TOKENS_MAX, Enqueuer
from arqkit.serializer import deserialize, serialize
from arqkit.sliding_window import Admission, Decision, Rate

QUEUE = "arq:queue"


async def echo(ctx: dict[str, Any], word: str, *, times: int) -> str:
    return word * times


async def test_a_stock_arq_worker_runs_a_job_the_script_wrote(pool: ArqRedis, enqueuer: Enqueuer) -> None:
    job = await enqueuer.enqueue_job("echo", "ab", times=2, _job_id="stock-run")
    assert job is not None
    worker = Worker(
        functions=[echo],
        redis_pool=ArqRedis(pool.connection_pool, default_queue_name=QUEUE),
        job_serializer=serialize,
        job_deserializer=deserialize,
        burst=True,
        poll_delay=0.01,
        handle_signals=False,
    )
    await worker.main()

    assert worker.jobs_complete == 1
    assert await job.result(timeout=5) == "abab"


async def test_arqs_job_reads_the_function_arguments_and_time_the_script_wrote(
    pool: ArqRedis, enqueuer: Enqueuer
) -> None:
    before = datetime.now(UTC)
    await enqueuer.enqueue_job("echo", "ab", times=2, _job_id="readable", _job_try=3)

    job = Job("readable", pool, _queue_name=QUEUE, _deserializer=deserialize)
    info = await job.info()

    assert await job.status() == JobStatus.queued
    assert info is not None
    assert (info.function, list(info.args), info.kwargs, info.job_try) == ("echo", ["ab"], {"times": 2}, 3)
    assert before - timedelta(seconds=1) <= info.enqueue_time <= datetime.now(UTC)


async def test_the_script_enqueues_to_the_queue_it_is_given(pool: ArqRedis, enqueuer: Enqueuer) -> None:
    job = await enqueuer.enqueue_job("echo", _job_id="elsewhere", _queue_name="arq:queue:high")

    assert job is not None
    assert await pool.zscore("arq:queue:high", "elsewhere") is not None
    assert await pool.zscore(QUEUE, "elsewhere") is None
    assert await Job("elsewhere", pool, _queue_name="arq:queue:high").status() == JobStatus.queued


# Each case prepares the state one job id is in; arq's enqueue_job and the script then get the same state.
State = Callable[[ArqRedis, str], Awaitable[None]]


async def _fresh(pool: ArqRedis, job_id: str) -> None:
    return None


async def _queued(pool: ArqRedis, job_id: str) -> None:
    await pool.enqueue_job("echo", _job_id=job_id)


async def _deferred(pool: ArqRedis, job_id: str) -> None:
    await pool.enqueue_job("echo", _job_id=job_id, _defer_by=timedelta(hours=1))


async def _running(pool: ArqRedis, job_id: str) -> None:
    await pool.enqueue_job("echo", _job_id=job_id)
    await pool.set(keys.in_progress(job_id), b"1")


async def _claim_left_behind(pool: ArqRedis, job_id: str) -> None:
    """Only an in-progress key: arq's enqueue_job checks the job and result keys, not this one."""
    await pool.set(keys.in_progress(job_id), b"1")


async def _result_kept(pool: ArqRedis, job_id: str) -> None:
    await pool.set(keys.result(job_id), b"{}", ex=60)


async def _result_expired(pool: ArqRedis, job_id: str) -> None:
    await pool.set(keys.result(job_id), b"{}", px=1)
    while await pool.exists(keys.result(job_id)):
        await pool.pexpire(keys.result(job_id), 1)


async def _job_expired(pool: ArqRedis, job_id: str) -> None:
    await pool.enqueue_job("echo", _job_id=job_id, _expires=0.001)
    while await pool.exists(keys.job(job_id)):
        await pool.pexpire(keys.job(job_id), 1)


DEDUP_CASES: dict[str, tuple[State, bool]] = {  # state -> whether enqueue_job creates the job
    "fresh id": (_fresh, True),
    "queued": (_queued, False),
    "deferred": (_deferred, False),
    "running": (_running, False),
    "in-progress key only": (_claim_left_behind, True),
    "result kept": (_result_kept, False),
    "after result expiry": (_result_expired, True),
    "after job key expiry (_expires)": (_job_expired, True),
}


@pytest.mark.parametrize("case", list(DEDUP_CASES))
async def test_the_script_dedups_like_enqueue_job(pool: ArqRedis, enqueuer: Enqueuer, case: str) -> None:
    prepare, creates = DEDUP_CASES[case]
    await prepare(pool, "by-arq")
    await prepare(pool, "by-script")

    by_arq = await pool.enqueue_job("echo", _job_id="by-arq")
    by_script = await enqueuer.enqueue_job("echo", _job_id="by-script")

    assert (by_arq is not None, by_script is not None) == (creates, creates)


async def _written(pool: ArqRedis, job_id: str) -> tuple[dict[str, Any], float, int]:
    """What an enqueue wrote: the payload without its time, the score relative to it, the key's TTL."""
    payload = orjson.loads(await pool.get(keys.job(job_id)))
    enqueued_at = payload.pop("et")
    score = await pool.zscore(QUEUE, job_id)
    return payload, score - enqueued_at, await pool.pttl(keys.job(job_id))


OPTIONS: dict[str, dict[str, Any]] = {
    "plain": {},
    "deferred by": {"_defer_by": timedelta(minutes=5)},
    "deferred until": {"_defer_until": datetime(2100, 1, 1, tzinfo=UTC)},
    "expires": {"_expires": 90},
    "job try": {"_job_try": 2},
}


@pytest.mark.parametrize("option", list(OPTIONS))
async def test_the_script_writes_the_payload_score_and_ttl_enqueue_job_writes(
    pool: ArqRedis, enqueuer: Enqueuer, option: str
) -> None:
    kwargs = OPTIONS[option]
    await pool.enqueue_job("echo", "x", times=1, _job_id="by-arq", **kwargs)
    await enqueuer.enqueue_job("echo", "x", times=1, _job_id="by-script", **kwargs)

    payload_arq, score_arq, ttl_arq = await _written(pool, "by-arq")
    payload_script, score_script, ttl_script = await _written(pool, "by-script")

    assert payload_script == payload_arq
    assert score_script == pytest.approx(score_arq, abs=50)  # "until" scores are absolute: same instant
    assert ttl_script == pytest.approx(ttl_arq, abs=1_000)


async def test_the_script_refuses_defer_by_and_defer_until_together(
    pool: ArqRedis, enqueuer: Enqueuer
) -> None:
    with pytest.raises(RuntimeError, match="defer"):
        await enqueuer.enqueue_job("echo", _defer_by=1, _defer_until=datetime.now(UTC))


async def test_each_enqueue_pushes_a_wake_up_token_up_to_a_cap(
    pool: ArqRedis, enqueuer: Enqueuer, redis_client: redis.asyncio.Redis
) -> None:
    for n in range(WAKE_TOKENS_MAX + 5):
        await enqueuer.enqueue_job("echo", _job_id=f"token-{n}")

    tokens: int = await redis_client.llen(keys.wake(QUEUE))  # type: ignore[misc]

    assert tokens == WAKE_TOKENS_MAX


async def test_a_duplicate_enqueue_pushes_no_wake_up_token(
    pool: ArqRedis, enqueuer: Enqueuer, redis_client: redis.asyncio.Redis
) -> None:
    await _queued(pool, "dup")

    await enqueuer.enqueue_job("echo", _job_id="dup")

    tokens: int = await redis_client.llen(keys.wake(QUEUE))  # type: ignore[misc]

    assert tokens == 0


async def test_enqueues_made_at_once_are_each_written_once(pool: ArqRedis, enqueuer: Enqueuer) -> None:
    ids = [f"together-{n}" for n in range(50)]

    jobs = await asyncio.gather(*(enqueuer.enqueue_job("echo", _job_id=job_id) for job_id in [*ids, *ids]))

    assert sum(job is not None for job in jobs) == len(ids)
    assert await pool.zcard(QUEUE) == len(ids)


async def test_the_script_is_loaded_again_after_redis_forgets_it(pool: ArqRedis, enqueuer: Enqueuer) -> None:
    await enqueuer.enqueue_job("echo", _job_id="before")
    await pool.script_flush()

    assert await enqueuer.enqueue_job("echo", _job_id="after") is not None


# --- an enqueue that passes a rate limit first, in the same call --------------------------------------------

WINDOW = keys.rate_window("test", "client")


async def test_an_admitted_enqueue_writes_the_job_and_counts_in_the_window(
    pool: ArqRedis, enqueuer: Enqueuer
) -> None:
    written = await enqueuer.write("echo", (), {}, job_id="let-in", admission=Admission(WINDOW, Rate(2, 60)))

    assert written.created
    assert written.admission == Decision(True, 2, 1, 0.0, pytest.approx(60.0, abs=0.1))  # type: ignore[arg-type]
    assert await pool.zscore(QUEUE, "let-in") is not None
    assert await pool.zcard(WINDOW) == 1


async def test_a_refused_enqueue_writes_nothing(
    pool: ArqRedis, enqueuer: Enqueuer, redis_client: redis.asyncio.Redis
) -> None:
    admission = Admission(WINDOW, Rate(1, 60))
    await enqueuer.write("echo", (), {}, job_id="first", admission=admission)

    refused = await enqueuer.write("echo", (), {}, job_id="second", admission=admission)

    assert refused.admission is not None
    assert not refused.admission.admitted
    assert not refused.created
    assert refused.admission.retry_after == 60
    assert not await pool.exists(keys.job("second"))
    assert await pool.zscore(QUEUE, "second") is None
    assert await redis_client.llen(keys.wake(QUEUE)) == 1  # type: ignore[misc]  # the first one's token
    assert await pool.zcard(WINDOW) == 1


async def test_an_admitted_enqueue_of_an_existing_id_still_counts_in_the_window(
    pool: ArqRedis, enqueuer: Enqueuer
) -> None:
    """The limit counts requests, as a separate check before the enqueue would: a duplicate is one too."""
    await _queued(pool, "twice")

    written = await enqueuer.write("echo", (), {}, job_id="twice", admission=Admission(WINDOW, Rate(5, 60)))

    assert written.admission is not None
    assert written.admission.admitted
    assert not written.created
    assert await pool.zcard(WINDOW) == 1
