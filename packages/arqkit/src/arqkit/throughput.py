"""The dashboard's throughput history, kept in Redis so its chart shows the last minutes from the moment
it opens (a chart fed only by the open page starts empty).

Every API process samples the queue depth and the job counters every `DASHBOARD_SAMPLE_SECONDS`;
`sample.lua` keeps one point per interval, whichever process comes first, and drops points older than
`DASHBOARD_HISTORY_SECONDS`: about history / interval points (60 by default), however many processes.
"""

from __future__ import annotations

import asyncio

import structlog
from pydantic import BaseModel
from redis.asyncio import Redis

from arqkit import deadline, keys, lua, metrics, overview
from arqkit.settings import QueueSettings

log = structlog.get_logger("jobs.throughput")


class Sample(BaseModel):
    at_ms: int
    queued: int  # waiting now, over every queue
    completed: float  # the counters' totals so far: the page turns two samples into a rate
    failed: float


async def take(redis: Redis, settings: QueueSettings) -> Sample:
    sums = await metrics.read(redis)
    depths = await overview.queue_depths(redis, settings)

    def total(spec: metrics.Spec) -> float:
        return sum(value for key, value in sums.items() if key[0] == spec.name)

    return Sample(
        at_ms=metrics.now_ms(),
        queued=sum(depth.queued for depth in depths),
        completed=total(metrics.JOBS_COMPLETED),
        failed=total(metrics.JOBS_FAILED),
    )


async def record(redis: Redis, settings: QueueSettings) -> None:
    """Add this interval's point unless another process has; drop the points past the history."""
    sample = await take(redis, settings)
    interval_ms = int(settings.dashboard_sample_seconds * 1000)
    start_ms = sample.at_ms // interval_ms * interval_ms
    span_ms = settings.dashboard_history_seconds * 1000
    script = redis.register_script(lua.source("sample"))
    await script(
        keys=[keys.THROUGHPUT], args=[start_ms, sample.model_dump_json(), sample.at_ms - span_ms, span_ms]
    )


async def record_forever(redis: Redis, settings: QueueSettings, stopping: asyncio.Event) -> None:
    """An API process's sampler task: set `stopping` and cancel it to stop (`metrics.flush_forever` says
    why both). A failed sample is a gap in the chart, no more."""
    while not stopping.is_set():
        try:
            # Bounded like a request (on the API's pool): a silent Redis must not hold the pool's lock.
            with deadline.budget(settings.redis_request_budget_seconds):
                await record(redis, settings)
        except Exception:
            log.warning("throughput sample failed; will retry", exc_info=True)
        await asyncio.sleep(settings.dashboard_sample_seconds)


async def history(redis: Redis, settings: QueueSettings) -> list[Sample]:
    """The points of the last `DASHBOARD_HISTORY_SECONDS`, oldest first."""
    since_ms = metrics.now_ms() - settings.dashboard_history_seconds * 1000
    raws = await redis.zrangebyscore(keys.THROUGHPUT, since_ms, "+inf")
    return [Sample.model_validate_json(raw) for raw in raws]
