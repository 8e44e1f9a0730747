"""`WorkerSettings` for `arq jobs.WorkerSettings`.

arq reads settings from the class `__dict__` only (inherited attributes are ignored, arq #472), so the
class is built by a function; tests and other queues build their own variant the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from arq.cron import CronJob, cron

from jobs import lifecycle, queues, registry
from jobs.connection import create_worker_redis, worker_redis_settings
from jobs.cron import daily_digest, hourly_sweep
from jobs.definition import JobDefinition
from jobs.failure_watch import WATCH
from jobs.queues import Priority
from jobs.serializer import deserialize
from settings import Settings, get_settings


def default_cron_jobs(settings: Settings) -> list[CronJob]:
    return [
        cron(daily_digest.run, name="daily_digest", hour=7, minute=0, unique=True, max_tries=3),
        cron(hourly_sweep.run, name="hourly_sweep", minute=0, unique=True),
    ]


def build_worker_settings(
    settings: Settings,
    jobs: Sequence[JobDefinition[..., Any]] = registry.JOBS,
    cron_jobs: Sequence[CronJob] | None = None,
) -> type:
    attrs: dict[str, Any] = {
        "functions": [j.arq_function(settings) for j in jobs],
        "cron_jobs": default_cron_jobs(settings) if cron_jobs is None else list(cron_jobs),
        "queue_name": settings.queue_name,
        "redis_settings": worker_redis_settings(settings),  # still what `arq ... --check` reads
        "redis_pool": create_worker_redis(settings),  # idle: waits for a wake-up (jobs/wakeup.py)
        "job_serializer": WATCH.serialize,  # JSON, never pickle; notes final failures for dead letters
        "job_deserializer": deserialize,
        "on_startup": lifecycle.on_startup,
        "on_shutdown": lifecycle.on_shutdown,
        "on_job_start": lifecycle.on_job_start,
        "after_job_end": lifecycle.after_job_end,
        "max_tries": settings.max_tries,
        "job_timeout": settings.job_timeout,
        "keep_result": settings.keep_result_seconds,
        "max_jobs": settings.worker_max_jobs,  # async jobs mostly wait on I/O: many at once is cheap
        "poll_delay": settings.worker_poll_delay_seconds,  # paces a busy worker only; idle ones are woken
        "job_completion_wait": settings.job_completion_wait_seconds,  # SIGTERM lets running jobs finish
        "health_check_interval": 5,  # `arq ... --check` and /readyz see a dead worker within seconds
        "allow_abort_jobs": True,  # DELETE /jobs/{id} on a running job
    }
    return type("WorkerSettings", (), attrs)


def build_priority_worker_settings(settings: Settings, priority: Priority) -> type:
    """A worker for one priority's queue (`jobs.queues`): every job, its own queue; cron on default only."""
    own = queues.settings_for(settings, priority)
    worker_settings = build_worker_settings(own, cron_jobs=None if priority == "default" else [])
    worker_settings.ctx = {"queue_name": own.queue_name}  # type: ignore[attr-defined]
    return worker_settings


WorkerSettings = build_worker_settings(get_settings())
CriticalWorkerSettings = build_priority_worker_settings(get_settings(), "critical")
BulkWorkerSettings = build_priority_worker_settings(get_settings(), "bulk")
