"""Worker variants for the traffic-control tests, run as real processes: `arq tests.traffic_worker.<Name>`."""

from __future__ import annotations

import asyncio

from jobs import keys
from jobs.definition import Ctx, job
from jobs.limits import concurrency_slot
from jobs.worker import build_worker_settings
from settings import Settings, get_settings

HOLDERS = keys.PREFIX + "test:holders"  # how many jobs hold a `capped_work` slot right now
HOLDERS_SEEN = keys.PREFIX + "test:holders-seen"  # list: that count as each job got its slot


@job(max_tries=1)
async def capped_work(ctx: Ctx, seconds: float) -> None:
    """At most `report_max_concurrency` of these run at once; each records how many run with it."""
    settings: Settings = ctx["settings"]
    async with concurrency_slot(ctx, "capped_work", settings.report_max_concurrency):
        await ctx["redis"].rpush(HOLDERS_SEEN, await ctx["redis"].incr(HOLDERS))
        try:
            await asyncio.sleep(seconds)
        finally:
            await ctx["redis"].decr(HOLDERS)


@job(max_tries=1, priority="bulk")
async def bulk_work(ctx: Ctx, seconds: float) -> None:
    await asyncio.sleep(seconds)


WithCappedWork = build_worker_settings(get_settings(), jobs=[capped_work], cron_jobs=[])
