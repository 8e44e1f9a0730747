"""Scheduled jobs: `@job(cron=Cron(...))` is the whole declaration (schedule and policy); list them in
`jobs/registry.py` like any job. Each tick's job id is `name:<run-at ms>`, so it runs once per tick
across any number of workers."""

from __future__ import annotations

import datetime as dt

import structlog
from arqkit import Cron, count_dead_letters, job

from jobs import keys
from jobs.context import Ctx

log = structlog.get_logger("jobs.tasks.cron")


@job(max_tries=3, cron=Cron(hour=7, minute=0, catch_up_seconds=6 * 3600))  # missed: run until 13:00
async def daily_digest(ctx: Ctx) -> dict[str, object]:
    """Send yesterday's digest once per day (the marker makes a re-run harmless)."""
    day = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()
    first = await ctx.redis.set(keys.digest_sent(day), "1", nx=True, ex=7 * 86_400)
    log.info("daily digest", day=day, sent=bool(first))
    return {"day": day, "sent": bool(first)}


@job(max_tries=1, cron=Cron(minute=0))
async def hourly_sweep(ctx: Ctx) -> dict[str, int]:
    """Report what needs attention; the dead-letter set trims itself on write."""
    dead = await count_dead_letters(ctx.redis)
    queued = int(await ctx.redis.zcard(ctx.settings.queue_name))
    log.info("hourly sweep", dead_letters=dead, queued=queued)
    return {"dead_letters": dead, "queued": queued}
