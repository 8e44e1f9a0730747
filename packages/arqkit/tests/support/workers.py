"""Worker variants for tests, run as real processes: `arq tests.support.workers.<Name>`."""

from __future__ import annotations

import asyncio

from arqkit import Cron, Registry, build_worker_settings, concurrency_slot, job, keys
from arqkit.job import AnyContext as Ctx
from tests.service.registry import REGISTRY
from tests.service.settings import Settings, get_settings
from tests.support import stock_arq

TICKS = keys.PREFIX + "test:ticks"
HOLDERS = keys.PREFIX + "test:holders"  # how many jobs hold a `capped_work` slot right now
HOLDERS_SEEN = keys.PREFIX + "test:holders-seen"  # list: that count as each job got its slot
EXECUTIONS = keys.PREFIX + "test:executions"  # hash: job id -> how many times `count_execution` ran it


@job(max_tries=1, cron=Cron(second=set(range(60))))
async def record_tick(ctx: Ctx) -> None:
    """Records its arq job id, which names its cron tick."""
    await ctx.redis.hincrby(TICKS, ctx.job_id, 1)


@job(max_tries=1, cron=Cron(minute=0, catch_up_seconds=3600))
async def hourly_with_catch_up(ctx: Ctx) -> None:
    """Hourly; a worker that starts runs the last hour's tick if no worker ran it."""
    await ctx.redis.hincrby(TICKS, ctx.job_id, 1)


@job(max_tries=1, cron=Cron(minute=0))
async def hourly_without_catch_up(ctx: Ctx) -> None:
    await ctx.redis.hincrby(TICKS, ctx.job_id, 1)


@job(max_tries=1, timeout_seconds=0.3)
async def outlives_its_timeout(ctx: Ctx) -> None:
    await asyncio.sleep(30)


@job(max_tries=1)
async def sleeps_on_its_only_try(ctx: Ctx, seconds: float) -> None:
    await asyncio.sleep(seconds)


@job(max_tries=1)
async def capped_work(ctx: Ctx, seconds: float) -> None:
    """At most `long_max_concurrency` of these run at once; each records how many run with it."""
    settings: Settings = ctx.settings
    async with concurrency_slot(ctx, "capped_work", settings.long_max_concurrency):
        await ctx.redis.rpush(HOLDERS_SEEN, await ctx.redis.incr(HOLDERS))
        try:
            await asyncio.sleep(seconds)
        finally:
            await ctx.redis.decr(HOLDERS)


@job(max_tries=1, priority="bulk")
async def bulk_work(ctx: Ctx, seconds: float) -> None:
    await asyncio.sleep(seconds)


@job(max_tries=1)
async def count_execution(ctx: Ctx, n: int) -> None:
    """A no-op that counts its runs per job id: a job that ran twice shows a 2."""
    await ctx.redis.hincrby(EXECUTIONS, ctx.job_id, 1)


@job()
async def waits_for_release(ctx: Ctx, tag: str) -> str:
    """`stock_arq.waits_for_release` as a template job: the same name, counted in the same hash."""
    await ctx.redis.hincrby(stock_arq.RUNS, ctx.job_id, 1)
    while not await ctx.redis.exists(stock_arq.RELEASE):
        await asyncio.sleep(0.05)
    return f"template:{tag}"


CronEverySecond = build_worker_settings(get_settings(), Registry([record_tick]))
CronCatchUp = build_worker_settings(get_settings(), Registry([hourly_with_catch_up, hourly_without_catch_up]))
WithTestJobs = build_worker_settings(get_settings(), Registry([outlives_its_timeout, sleeps_on_its_only_try]))
WithCappedWork = build_worker_settings(get_settings(), Registry([capped_work]))
# The fixture service's jobs (`charge`: idempotency), a cron firing every second, the counting no-op.
ManyProcesses = build_worker_settings(get_settings(), Registry([*REGISTRY, record_tick, count_execution]))
# Beside a stock arq worker (tests/support/stock_arq.py) on one queue: the job they share by name.
MixedFleet = build_worker_settings(get_settings(), Registry([waits_for_release]))
