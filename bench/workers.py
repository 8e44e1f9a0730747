"""The workers the benchmarks compare, each a target for `arq bench.workers.<Name>`.

`Template*` are built by the template's own `build_worker_settings` (every hook on) plus one no-op job;
the `No*` variants switch one piece off, to price it. `Arq*` are stock arq workers with no hooks and
no wake-up pool: `ArqDefaults` as arq ships (JSON serializer only, never pickle), `ArqTuned` with the
template's own max_jobs, poll_delay, abort and health settings.
"""

from __future__ import annotations

import time
from typing import Any

from arq.connections import ArqRedis
from arq.worker import func

from jobs.core import Registry, build_worker_settings
from jobs.core.internals.connection import create_api_redis, worker_redis_settings
from jobs.core.job import Ctx, job
from jobs.core.serializer import deserialize, serialize
from jobs.registry import REGISTRY
from settings import get_settings

NOOP = "bench_noop"


@job()
async def bench_noop(ctx: Ctx) -> float:
    """Does nothing but say when it started (the pickup benchmark reads it from the result)."""
    return time.time()


async def raw_noop(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> float:
    return time.time()


def _template(**overrides: Any) -> type:
    worker_settings = build_worker_settings(get_settings(), Registry([*REGISTRY, bench_noop]))
    for name, value in overrides.items():
        setattr(worker_settings, name, value)
    return worker_settings


def _polling_pool() -> ArqRedis:
    """A plain arq pool: the worker polls every poll_delay, as arq does, instead of waiting for a wake-up."""
    return create_api_redis(get_settings().model_copy(update={"redis_socket_timeout_seconds": 30.0}))


def _arq(**tuning: Any) -> type:
    attrs: dict[str, Any] = {
        "functions": [func(raw_noop, name=NOOP)],
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

_template_tuning = {k: getattr(Template, k) for k in ("max_jobs", "poll_delay", "allow_abort_jobs")}
ArqDefaults = _arq()
ArqTuned = _arq(**_template_tuning, health_check_interval=5)
