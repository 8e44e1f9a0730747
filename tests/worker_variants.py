"""Worker variants for tests, run as real processes: `arq tests.worker_variants.<Name>`."""

from __future__ import annotations

import asyncio

from arq.cron import cron

from jobs import keys
from jobs.definition import Ctx, job
from jobs.worker import build_worker_settings
from settings import get_settings

TICKS = keys.PREFIX + "test:ticks"


@job(max_tries=1)
async def record_tick(ctx: Ctx) -> None:
    """Records its arq job id, which names its cron tick."""
    await ctx["redis"].hincrby(TICKS, ctx["job_id"], 1)


@job(max_tries=1, timeout_seconds=0.3)
async def outlives_its_timeout(ctx: Ctx) -> None:
    await asyncio.sleep(30)


@job(max_tries=1)
async def sleeps_on_its_only_try(ctx: Ctx, seconds: float) -> None:
    await asyncio.sleep(seconds)


CronEverySecond = build_worker_settings(
    get_settings(),
    jobs=[],
    cron_jobs=[cron(record_tick.run, name="record_tick", second=set(range(60)), unique=True)],
)
WithTestJobs = build_worker_settings(get_settings(), jobs=[outlives_its_timeout, sleeps_on_its_only_try])
