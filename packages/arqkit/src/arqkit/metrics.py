"""Counters and histograms, batched in memory by each process and added to one Redis hash every second.

Any number of API processes (uvicorn `--workers N`) and worker processes, on any number of hosts, add
their counts to `keys.METRICS`; whichever API process a scrape reaches reads the same sums. A job costs
no Redis round trip of its own: the hooks only count in memory, and `flush_forever` writes the batch in
one transaction per interval (nothing when idle). A SIGKILLed process loses at most its last interval.

The finished tries listed by the admin API (`keys.recent_jobs`) ride on the same flush.
"""

from __future__ import annotations

import asyncio
import functools
import math
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import orjson
import structlog
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

from arqkit import deadline, keys, records
from arqkit.settings import QueueSettings

log = structlog.get_logger("jobs.metrics")

Labels = tuple[str, ...]
BATCH = "metrics"  # worker ctx: the process's MetricsBatch
FUNCTION = "function"  # job ctx: the job's function name, set by `job_started`
QUEUE = "metrics_queue"  # worker ctx: the `queue` label of its jobs (`default`, `critical`, `bulk`)
STARTED = "started_monotonic"  # job ctx: when the try started


@dataclass(frozen=True)
class Spec:
    """One metric family: name (without `_total`), help text, label names, and buckets if a histogram."""

    name: str
    help: str
    labels: Labels
    buckets: tuple[float, ...] = ()


_JOB = ("function", "queue")
JOBS_STARTED = Spec("jobs_started", "Tries a worker ran (deferrals are not tries: jobs_deferred).", _JOB)
JOBS_COMPLETED = Spec("jobs_completed", "Tries that returned a result.", _JOB)
JOBS_RETRIED = Spec("jobs_retried", "Tries that ended in a retry (a transient error or `Retry`).", _JOB)
JOBS_FAILED = Spec("jobs_failed", "Tries that raised an error, whether it was retried or not.", _JOB)
JOBS_DEAD_LETTERED = Spec("jobs_dead_lettered", "Jobs that gave up and went to the dead letters.", _JOB)
JOBS_CANCELLED = Spec("jobs_cancelled", "Tries cancelled by an abort or a worker shutdown.", _JOB)
JOBS_DEFERRED = Spec("jobs_deferred", "Runs put back to wait for a rate or concurrency limit (no try).", _JOB)
JOB_DURATION = Spec(
    "jobs_duration_seconds",
    "How long one try ran, from its start to its end.",
    _JOB,
    (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, math.inf),
)
JOB_PICKUP_LATENCY = Spec(
    "jobs_pickup_latency_seconds",
    "From when a try was due (its enqueue, or its deferred or retry time) to when a worker started it.",
    _JOB,
    (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, math.inf),
)
HTTP_REQUESTS = Spec(
    "http_requests", "HTTP requests answered, by route template.", ("method", "route", "status")
)
HTTP_DURATION = Spec(
    "http_request_duration_seconds",
    "HTTP request latency, by route template.",
    ("method", "route"),
    (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, math.inf),
)
COUNTERS = (
    JOBS_STARTED,
    JOBS_COMPLETED,
    JOBS_RETRIED,
    JOBS_FAILED,
    JOBS_DEAD_LETTERED,
    JOBS_CANCELLED,
    JOBS_DEFERRED,
)
HISTOGRAMS = (JOB_DURATION, JOB_PICKUP_LATENCY, HTTP_DURATION)
JOB_HISTOGRAMS = (JOB_DURATION, JOB_PICKUP_LATENCY)


def le_label(bound: float) -> str:
    """A bucket bound as Prometheus spells it: `0.5`, `1.0`, `+Inf`."""
    return "+Inf" if math.isinf(bound) else repr(float(bound))


class MetricsBatch:
    """What one process counted since its last flush. One event loop touches it: no locks."""

    def __init__(self) -> None:
        self.counts: defaultdict[bytes, int] = defaultdict(int)
        self.sums: defaultdict[bytes, float] = defaultdict(float)
        self.recent: list[tuple[str, bytes, int]] = []  # (status, JSON summary, finished at ms)
        self.errors: list[tuple[str, int, bytes]] = []  # (job id, try, JSON error with traceback)

    def inc(self, spec: Spec, *labels: str) -> None:
        self.counts[_counter_field(spec.name, labels)] += 1

    def observe(self, spec: Spec, value: float, *labels: str) -> None:
        """Histogram buckets are stored cumulatively, as Prometheus exposes them."""
        buckets, count, total = _histogram_fields(spec, labels)
        for bound, field in buckets:
            if value <= bound:
                self.counts[field] += 1
        self.counts[count] += 1
        self.sums[total] += value

    def finished(self, status: str, summary: dict[str, Any], at_ms: int) -> None:
        self.recent.append((status, orjson.dumps(summary), at_ms))

    def failed_try(self, job_id: str, job_try: int, error: dict[str, Any]) -> None:
        """Keep a failed try's error and traceback for the admin job detail (`history.py`)."""
        self.errors.append((job_id, job_try, orjson.dumps({**error, "try": job_try, "at_ms": now_ms()})))

    def empty(self) -> bool:
        return not (self.counts or self.sums or self.recent or self.errors)

    def take(self) -> MetricsBatch:
        """Hand over everything counted so far and start again from zero."""
        taken = MetricsBatch()
        taken.counts, self.counts = self.counts, defaultdict(int)
        taken.sums, self.sums = self.sums, defaultdict(float)
        taken.recent, self.recent = self.recent, []
        taken.errors, self.errors = self.errors, []
        return taken

    def merge(self, other: MetricsBatch) -> None:
        """Put back a batch whose write failed, so the next flush carries it."""
        for field, count in other.counts.items():
            self.counts[field] += count
        for field, total in other.sums.items():
            self.sums[field] += total
        self.recent[:0] = other.recent
        self.errors[:0] = other.errors


@functools.lru_cache(maxsize=4096)  # a job's or a request's labels repeat: encode each field once
def _field(name: str, labels: tuple[str, ...]) -> bytes:
    return orjson.dumps([name, *labels])


def count_on(pipe: Pipeline, spec: Spec, *labels: str) -> None:
    """Queue on `pipe` one count of a counter, to be written with whatever it counts (a dead letter is
    counted in the transaction that records it: once, never in a window where it could count twice)."""
    pipe.hincrby(keys.METRICS, _counter_field(spec.name, labels).decode(), 1)


_counter_field = functools.cache(_field)  # per request: made once per label set (labels are bounded)


@functools.cache
def _histogram_fields(spec: Spec, labels: Labels) -> tuple[list[tuple[float, bytes]], bytes, bytes]:
    """A histogram's fields for one set of labels, made once: each bucket's (bound, field), count, sum.
    Labels are bounded (route templates, function names), so the cache is too."""
    buckets = [(bound, _field(spec.name + "_bucket", (*labels, le_label(bound)))) for bound in spec.buckets]
    return buckets, _field(spec.name + "_count", labels), _field(spec.name + "_sum", labels)


async def flush(batch: MetricsBatch, redis: Redis, settings: QueueSettings) -> None:
    """Add the batch to the shared sums in one transaction; on a Redis error it stays for the next try."""
    if batch.empty():
        return
    taken = batch.take()
    statuses = {status for status, _, _ in taken.recent}
    try:
        async with redis.pipeline(transaction=True) as pipe:
            for field, count in taken.counts.items():
                pipe.hincrby(keys.METRICS, field.decode(), count)
            for field, total in taken.sums.items():
                pipe.hincrbyfloat(keys.METRICS, field.decode(), total)
            for status, summary, at_ms in taken.recent:
                pipe.zadd(keys.recent_jobs(status), {summary: at_ms})
            for status in statuses:
                pipe.zremrangebyrank(keys.recent_jobs(status), 0, -settings.recent_jobs_max - 1)
            for job_id, job_try, error in taken.errors:
                pipe.hset(keys.job_errors(job_id), str(job_try), error.decode())
                pipe.expire(keys.job_errors(job_id), settings.keep_result_seconds + settings.job_timeout)
            await pipe.execute()
    except (RedisError, OSError):
        batch.merge(taken)
        raise


async def flush_forever(
    batch: MetricsBatch, redis: Redis, settings: QueueSettings, stopping: asyncio.Event
) -> None:
    """The flusher task of a process: set `stopping` and cancel it, then `flush` once more, to stop.
    (`stopping` because Python 3.11's asyncio.timeout can swallow a cancel that meets its deadline.)"""
    while not stopping.is_set():
        await asyncio.sleep(settings.metrics_flush_seconds)
        try:
            # Bounded like a request (on the API's pool): a frozen Redis must not hold a pooled connection.
            with deadline.budget(settings.redis_request_budget_seconds):
                await flush(batch, redis, settings)
        except Exception:
            log.warning("metrics flush failed; will retry", exc_info=True)


async def read(redis: Redis) -> dict[tuple[str, ...], float]:
    """The shared sums: (metric name, label values..., [le]) -> value."""
    raw: dict[bytes, bytes] = await redis.hgetall(keys.METRICS)  # type: ignore[misc]  # redis-py's union
    sums = {}
    for field, value in raw.items():
        sample = records.json_or_none(field, keys.METRICS)
        number = records.number_or_none(value, keys.METRICS)
        if isinstance(sample, list) and all(isinstance(part, str) for part in sample) and number is not None:
            sums[tuple(sample)] = number  # a malformed field is skipped (and logged), not a failed scrape
    return sums


def job_started(ctx: dict[str, Any], function: str) -> None:
    """Note a run's start and count its pickup latency; called first thing by the `@job` wrapper. The try
    itself is counted when the run ends (`job_metrics.job_ended`): only then is it known whether it was a
    try or a deferral (a rate or concurrency limit put it back, its try given back)."""
    ctx[FUNCTION] = function
    ctx[STARTED] = time.monotonic()
    batch: MetricsBatch | None = ctx.get(BATCH)
    if batch is None:  # a worker built without our on_startup
        return
    due_ms: int = ctx.get("score") or int(ctx["enqueue_time"].timestamp() * 1000)
    batch.observe(JOB_PICKUP_LATENCY, max(0.0, (now_ms() - due_ms) / 1000), function, ctx[QUEUE])


def now_ms() -> int:
    return int(time.time() * 1000)
