"""`@job(cron=Cron(...))` as arq's cron jobs, in the job's own time zone, and the catch-up of a tick
that passed while no worker ran.

arq evaluates every schedule in one zone, the worker's (`WorkerSettings.timezone`, else the machine's
local time); our workers set UTC, and a job that names a zone computes its ticks there: `CronJob` is
extended to do `calculate_next` in that zone (`next_run` is then aware, which arq compares and turns
into the tick's job id `name:<ms>` as before). Pinned: tests/internals/test_arq_contract.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from arq.cron import CronJob, cron, next_cron

from arqkit.job import JobDefinition
from arqkit.settings import QueueSettings

log = structlog.get_logger("jobs.cron")


@dataclasses.dataclass
class ZonedCronJob(CronJob):
    """arq's CronJob whose ticks are computed on the wall clock of `zone`."""

    zone: dt.tzinfo = dt.UTC
    catch_up_seconds: float = 0

    def calculate_next(self, prev_run: dt.datetime) -> None:
        super().calculate_next(prev_run.astimezone(self.zone))


def arq_cron(definition: JobDefinition[..., Any], settings: QueueSettings) -> ZonedCronJob:
    """A `@job(cron=...)` as arq's cron job: unique per tick, with the job's own policy and zone."""
    schedule = definition.options.cron
    assert schedule is not None
    base = cron(
        definition.run,
        name=definition.name,
        month=schedule.month,
        day=schedule.day,
        weekday=schedule.weekday,
        hour=schedule.hour,
        minute=schedule.minute,
        second=schedule.second,
        run_at_startup=schedule.run_at_startup,
        unique=True,  # its id is the tick's: one run per tick across every worker
        max_tries=definition.max_tries(settings),
        timeout=definition.timeout_seconds(settings),
        keep_result=definition.keep_result_seconds(settings),
    )
    if schedule.catch_up_seconds > definition.keep_result_seconds(settings):
        raise ValueError(
            f"{definition.name}: catch_up_seconds must not exceed the job's keep_result_seconds "
            "(a tick's result is what tells a catch-up that the tick already ran)"
        )
    fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(CronJob)}
    return ZonedCronJob(**fields, zone=ZoneInfo(schedule.tz), catch_up_seconds=schedule.catch_up_seconds)


def last_missed_tick(job: ZonedCronJob, now: dt.datetime) -> dt.datetime | None:
    """The latest tick of `job` in the catch-up window before `now`, or None (none, or no catch-up)."""
    if not job.catch_up_seconds:
        return None
    schedule = {name: getattr(job, name) for name in ("month", "day", "weekday", "hour", "minute", "second")}
    start = now.astimezone(job.zone) - dt.timedelta(seconds=job.catch_up_seconds)
    tick = next_cron(start, microsecond=job.microsecond, **schedule)
    if tick > now:
        return None
    while (following := next_cron(tick, microsecond=job.microsecond, **schedule)) <= now:
        tick = following
    return tick


async def catch_up(redis: Any, jobs: list[ZonedCronJob], queue_name: str) -> None:
    """Enqueue each job's last missed tick under the tick's own id, which arq's enqueue refuses while the
    tick's job or result exists: a tick that ran (or is queued) is not run again."""
    now = dt.datetime.now(dt.UTC)
    for job in jobs:
        tick = last_missed_tick(job, now)
        if tick is None:
            continue
        job_id = f"{job.name}:{int(tick.timestamp() * 1000)}"  # arq's tick id (Worker.run_cron)
        if await redis.enqueue_job(job.name, _job_id=job_id, _queue_name=queue_name) is not None:
            log.info("cron tick caught up", function=job.name, tick=tick.isoformat(), job_id=job_id)
