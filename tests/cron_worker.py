"""A worker whose cron job fires every second, to test once-per-tick across workers (`arq
tests.cron_worker.WorkerSettings`). Each run records its arq job id, which names its tick."""

from __future__ import annotations

from arq.cron import cron

from jobs import keys
from jobs.definition import Ctx, job
from jobs.worker import build_worker_settings
from settings import get_settings

TICKS = keys.PREFIX + "test:ticks"


@job(max_tries=1)
async def record_tick(ctx: Ctx) -> None:
    await ctx["redis"].hincrby(TICKS, ctx["job_id"], 1)


WorkerSettings = build_worker_settings(
    get_settings(),
    jobs=[],
    cron_jobs=[cron(record_tick.run, name="record_tick", second=set(range(60)), unique=True)],
)
