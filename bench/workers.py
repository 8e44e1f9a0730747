"""The workers the benchmarks compare, each a target for `arq bench.workers.<Name>`.

`Template*` are built by the template's own `build_worker_settings` (every hook on) plus one no-op job;
the `No*` variants switch one piece off, to price it (`TemplateArqClaim`: arq's own claim, job by job,
instead of the batch claim). `Arq*` are stock arq workers with no hooks and no wake-up pool:
`ArqDefaults` as arq ships (JSON serializer only, never pickle), `ArqTuned` with the template's own
max_jobs, poll_delay, abort and health settings. `ArqTunedBatchClaim` is `ArqTuned` on the template's
worker pool alone (batch claim, batched transactions, wake-up; no hooks, no wrapper): what lifts arq's
own loop.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from arq.connections import ArqRedis
from arq.worker import func
from arqkit import JobContext, Registry, build_worker_settings, job
from arqkit.client import JobQueue
from arqkit.internals.connection import create_api_redis, create_worker_redis, worker_redis_settings
from arqkit.internals.worker import claim_policy
from arqkit.serializer import deserialize, serialize

from bench.peers.common import SLEEP_SECONDS, noop_job, record_start
from jobs.registry import REGISTRY
from settings import get_settings

NOOP = "bench_noop"
SLEEP = "bench_sleep"


@job()
async def bench_noop(ctx: JobContext[Any, Any]) -> float:
    """Does nothing but say when it started (the pickup benchmark reads it from the result)."""
    started = time.time()
    noop_job()  # what every peer's no-op does: counts itself for the drain benchmark
    return started


@job()
async def bench_sleep(ctx: JobContext[Any, Any]) -> None:
    """The crash-recovery job: says when it starts, then runs far longer than the harness waits."""
    record_start()
    await asyncio.sleep(SLEEP_SECONDS)


async def raw_noop(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> float:
    started = time.time()
    noop_job()
    return started


async def raw_sleep(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> None:
    record_start()
    await asyncio.sleep(SLEEP_SECONDS)


def _template(**overrides: Any) -> type:
    worker_settings = build_worker_settings(get_settings(), Registry([*REGISTRY, bench_noop, bench_sleep]))
    for name, value in overrides.items():
        setattr(worker_settings, name, value)
    return worker_settings


def _polling_pool() -> ArqRedis:
    """A plain arq pool: the worker polls every poll_delay, as arq does, instead of waiting for a wake-up."""
    return create_api_redis(get_settings().model_copy(update={"redis_socket_timeout_seconds": 30.0}))


def _claiming_one_by_one(worker_settings: type) -> type:
    """The template's worker with arq's own claim (WATCH ... EXEC, then run_job's reads) for each job."""
    pool = worker_settings.redis_pool  # type: ignore[attr-defined]
    pool.claims = None
    pool.pipeline_options.pop("claims")
    return worker_settings


def _batch_claiming_pool() -> ArqRedis:
    pool = create_worker_redis(get_settings())
    pool.claim_in_batches(claim_policy(get_settings()))
    return pool


def _arq(**tuning: Any) -> type:
    attrs: dict[str, Any] = {
        "functions": [func(raw_noop, name=NOOP), func(raw_sleep, name=SLEEP)],
        "redis_settings": worker_redis_settings(get_settings()),
        "queue_name": get_settings().queue_name,
        "job_serializer": serialize,
        "job_deserializer": deserialize,
        **tuning,
    }
    return type("WorkerSettings", (), attrs)


Template = _template()
TemplatePolling = _template(redis_pool=_polling_pool())  # its poll_delay: WORKER_POLL_DELAY_SECONDS
TemplateNoJobHooks = _template(on_job_start=None, after_job_end=None)
TemplateNoWrapper = _template(functions=[func(raw_noop, name=NOOP)])
TemplateArqClaim = _claiming_one_by_one(_template())

_template_tuning = {k: getattr(Template, k) for k in ("max_jobs", "poll_delay", "allow_abort_jobs")}
ArqDefaults = _arq()
ArqTuned = _arq(**_template_tuning, health_check_interval=5)
ArqTunedBatchClaim = _arq(**_template_tuning, health_check_interval=5, redis_pool=_batch_claiming_pool())


async def enqueue_noops(count: int) -> None:
    """`python -m bench.peers.drive bench.workers noops N`: the template's own enqueue, as /signup uses it."""
    settings = get_settings()
    pool = create_api_redis(settings)
    queue = JobQueue(pool, settings, Registry([*REGISTRY, bench_noop, bench_sleep]))
    try:
        for start in range(0, count, 200):
            await asyncio.gather(*(queue.enqueue(bench_noop) for _ in range(min(200, count - start))))
    finally:
        await pool.aclose()


async def enqueue_sleep() -> None:
    settings = get_settings()
    pool = create_api_redis(settings)
    try:
        await JobQueue(pool, settings, Registry([*REGISTRY, bench_noop, bench_sleep])).enqueue(bench_sleep)
    finally:
        await pool.aclose()
