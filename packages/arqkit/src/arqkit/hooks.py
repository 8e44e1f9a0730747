"""arq hooks: what the worker does around every job, through arq's public hooks only.

- Crash recovery: arq marks a claimed job in progress for `job_timeout + 10 s` and never refreshes it,
  so a SIGKILLed worker's job waits minutes. Our claims are short from the start (`claims.claim_seconds`,
  set by the batch claim, or here at start) and a thread keeps them alive while the job runs, whatever it
  does to the event loop (internals/claim_keeper.py): a dead worker's job runs again within
  `crash_recovery_seconds`, a long or blocking job on a live worker never starts twice.
- Deploys: a job cancelled by shutdown gets its try back (arq counts it, #267).
- Liveness: each worker writes its own heartbeat key (arq's health key is one per queue).
- Resources: the service's worker lifespan (arqkit.context) is opened at startup, closed at shutdown.
Hooks never raise: an exception in `on_job_start` would kill arq's worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable

import orjson
import structlog

from arqkit import job_metrics, keys, unique
from arqkit.clock import redis_now
from arqkit.context import WorkerLifespan
from arqkit.internals import cron
from arqkit.internals.claim_keeper import ClaimKeeper
from arqkit.internals.claims import (
    RunningJobs,
    cap_claims,
    claim_seconds,
    refund_try,
    renewal_seconds,
    shorten_claim,
)
from arqkit.internals.connection import create_sync_redis
from arqkit.internals.result_tap import ResultTap
from arqkit.internals.wakeup import WakeableRedis
from arqkit.job import OUTCOME, RESOURCES, RESULT_TAP, RUNNING, SYNC_RUNNER, UNIQUE_LOCK, Ctx, Outcome
from arqkit.logs import configure_logging
from arqkit.settings import QueueSettings
from arqkit.sync_jobs import SyncRunner

log = structlog.get_logger("jobs.worker")
DEAD_LETTER_FLUSH_SECONDS = 0.2
Hook = Callable[[Ctx], Awaitable[None]]
LIFESPAN = "lifespan"  # worker ctx key: the service's WorkerLifespan, or None
LIFESPAN_STACK = "lifespan_stack"  # worker ctx key: what closes it
CLAIM_KEEPER = "claim_keeper"  # worker ctx key: the thread that renews claims (internals/claim_keeper.py)
CRON_JOBS = "cron_jobs"  # worker ctx key: the cron jobs this worker fires (internals/cron.py)


def never_raises(hook: Hook) -> Hook:
    @functools.wraps(hook)
    async def safe(ctx: Ctx) -> None:
        try:
            await hook(ctx)
        except Exception:
            log.exception("worker hook failed", hook=hook.__name__, job_id=ctx.get("job_id"))

    return safe


async def on_startup(ctx: Ctx) -> None:
    settings: QueueSettings = ctx["settings"]  # build_worker_settings puts its own
    configure_logging(settings)
    ctx[LIFESPAN_STACK] = stack = contextlib.AsyncExitStack()
    lifespan: WorkerLifespan[QueueSettings, object] | None = ctx.get(LIFESPAN)
    ctx[RESOURCES] = await stack.enter_async_context(lifespan(settings)) if lifespan else None
    ctx["worker_id"] = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    ctx.setdefault("queue_name", settings.queue_name)  # a priority's WorkerSettings sets its own queue
    ctx[RUNNING] = ctx["redis"].running if isinstance(ctx["redis"], WakeableRedis) else RunningJobs()
    ctx[CLAIM_KEEPER] = keeper = ClaimKeeper(ctx[RUNNING], create_sync_redis(settings), settings)
    keeper.start(asyncio.get_running_loop())
    ctx[SYNC_RUNNER] = SyncRunner(settings)
    ctx["heartbeat_task"] = asyncio.create_task(_heartbeat_forever(ctx, settings))
    ctx["dead_letter_task"] = asyncio.create_task(_flush_failures_forever(ctx, settings))
    job_metrics.start(ctx, settings)  # metrics, batched and flushed by a task of their own
    await _at_best(
        "catch up missed cron ticks", cron.catch_up(ctx["redis"], ctx[CRON_JOBS], ctx["queue_name"])
    )
    log.info("worker started", worker_id=ctx["worker_id"], queue=ctx["queue_name"])


async def on_shutdown(ctx: Ctx) -> None:
    """Step by step, each at best: Redis may be away (a stop never waits for it, internals/reconnect.py),
    and a worker stopped before it started (Redis unreachable all along) has nothing to undo."""
    if "worker_id" not in ctx:
        return
    ctx["heartbeat_task"].cancel()
    ctx["dead_letter_task"].cancel()
    ctx[CLAIM_KEEPER].stop()
    ctx[SYNC_RUNNER].stop()
    if isinstance(ctx["redis"], WakeableRedis) and ctx["redis"].claims is not None:
        await _at_best("give back unstarted claims", ctx["redis"].claims.give_back_unstarted(ctx["redis"]))
    await _at_best(
        "record dead letters", ctx[RESULT_TAP].flush(ctx["redis"], ctx["settings"].dead_letter_max)
    )
    await _at_best("flush metrics", job_metrics.stop(ctx))
    await _at_best("close the worker lifespan", ctx[LIFESPAN_STACK].aclose())
    await _at_best("remove worker heartbeat", _remove_heartbeat(ctx))
    log.info("worker stopped", worker_id=ctx["worker_id"])


async def _at_best(step: str, work: Awaitable[None]) -> None:
    try:
        await work
    except Exception as error:
        log.warning("worker shutdown step failed", step=step, error=repr(error))


async def _remove_heartbeat(ctx: Ctx) -> None:
    await ctx["redis"].delete(keys.worker_heartbeat(ctx["worker_id"]))
    await ctx["redis"].zrem(keys.WORKERS, ctx["worker_id"])


@never_raises
async def on_job_start(ctx: Ctx) -> None:
    settings: QueueSettings = ctx["settings"]
    job_id: str = ctx["job_id"]
    ctx[RUNNING].add(job_id)
    if _claimed_in_batch(ctx, job_id):
        return  # lua/claim.lua made the claim short and wrote started_at already
    meta_key = keys.job_meta(job_id)
    async with ctx["redis"].pipeline(transaction=False) as pipe:
        shorten_claim(pipe, job_id, claim_seconds(settings))
        pipe.hset(meta_key, mapping={"started_at": f"{time.time():.3f}", "progress": ""})
        pipe.expire(meta_key, settings.keep_result_seconds + settings.job_timeout)
        await pipe.execute()


def _claimed_in_batch(ctx: Ctx, job_id: str) -> bool:
    redis = ctx["redis"]
    return isinstance(redis, WakeableRedis) and redis.claims is not None and job_id in redis.claims.claims


@never_raises
async def after_job_end(ctx: Ctx) -> None:
    ctx[RUNNING].discard(ctx["job_id"])
    if ctx.get(OUTCOME) == Outcome.CANCELLED:
        await _after_cancel(ctx)
    if UNIQUE_LOCK in ctx:  # after arq's finish, which deleted the job key if the job has ended
        await unique.release(ctx["redis"], ctx[UNIQUE_LOCK], ctx["job_id"])
    await job_metrics.job_ended(ctx)


async def _after_cancel(ctx: Ctx) -> None:
    """Cancelled without a result means shutdown (an abort or a timeout stores one): refund the try."""
    job_id: str = ctx["job_id"]
    if not await ctx["redis"].exists(keys.result(job_id)):
        await refund_try(ctx["redis"], job_id)
        log.info("job re-queued by shutdown, try refunded", job_id=job_id)


async def _flush_failures_forever(ctx: Ctx, settings: QueueSettings) -> None:
    tap: ResultTap = ctx[RESULT_TAP]
    while True:
        await asyncio.sleep(DEAD_LETTER_FLUSH_SECONDS)
        try:
            await tap.flush(ctx["redis"], settings.dead_letter_max)
        except Exception:
            log.warning("recording dead letters failed; will retry", pending=tap.pending, exc_info=True)


async def _heartbeat_forever(ctx: Ctx, settings: QueueSettings) -> None:
    interval = renewal_seconds(settings)
    while True:
        try:
            await _beat(ctx, settings, interval)
        except Exception:
            log.warning("heartbeat failed; will retry", exc_info=True)
        await asyncio.sleep(interval)


async def _beat(ctx: Ctx, settings: QueueSettings, interval: float) -> None:
    """Say this worker is alive and cap claims left by dead workers (its own are the keeper's)."""
    running: RunningJobs = ctx[RUNNING]
    now = await redis_now(ctx["redis"])  # Redis's clock: the API compares it with its own reading of it
    record = {
        "worker_id": ctx["worker_id"],
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "queue": ctx["queue_name"],
        "running": len(running),
        "last_seen": now,
    }
    async with ctx["redis"].pipeline(transaction=False) as pipe:
        pipe.set(keys.worker_heartbeat(ctx["worker_id"]), orjson.dumps(record), px=int(interval * 3000))
        pipe.zadd(keys.WORKERS, {ctx["worker_id"]: record["last_seen"]})
        pipe.zremrangebyscore(keys.WORKERS, "-inf", now - 3600)
        await pipe.execute()
    capped = await cap_claims(ctx["redis"], ctx["queue_name"], claim_seconds(settings))
    if capped:
        log.warning("capped claims of jobs whose worker died before starting them", jobs=capped)
