"""How a run ended, counted in memory by the `after_job_end` hook; the flusher (`metrics.py`) writes it.

`metrics.job_started`, first thing in the `@job` wrapper (which knows the function), notes the start and
its pickup latency; the try is counted here, at its end, because only then is it known whether the run
was a try or a deferral (`jobs_deferred`). A run that ended normally costs no Redis call; only a
cancelled one reads its result, to tell a timeout (a failure) from an abort or a shutdown. Dead letters
are counted where they are recorded (`internals/result_tap.py`), in the same transaction.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from arqkit import keys, metrics, priorities, tracing
from arqkit.history import traceback_of
from arqkit.internals.layout import read_result
from arqkit.job import FAILURE, OUTCOME, Ctx, Outcome
from arqkit.serializer import error_of
from arqkit.settings import QueueSettings

_FLUSHER = "metrics_flusher"
_STOPPING = "metrics_stopping"  # worker ctx key: tells the flusher to stop
_TRACING_SHUTDOWN = "tracing_shutdown"

# The status a finished try shows in the admin lists, by the outcome the wrapper recorded.
RECENT_STATUS = {
    Outcome.COMPLETE: "complete",
    Outcome.RETRY: "retrying",
    Outcome.FAILED: "failed",
    Outcome.ABORTED: "aborted",
}
COUNTER = {
    Outcome.COMPLETE: metrics.JOBS_COMPLETED,
    Outcome.RETRY: metrics.JOBS_RETRIED,
    Outcome.ABORTED: metrics.JOBS_CANCELLED,
    Outcome.REQUEUED: metrics.JOBS_CANCELLED,
    Outcome.DEFERRED: metrics.JOBS_DEFERRED,
}


def start(ctx: Ctx, settings: QueueSettings) -> None:
    """On worker startup: a batch for this process, the `queue` label of its jobs, its flusher task, and
    the tracer provider when TRACING_ENABLED."""
    ctx[_TRACING_SHUTDOWN] = tracing.install(settings, "worker")
    batch = ctx[metrics.BATCH] = metrics.MetricsBatch()
    ctx[metrics.QUEUE] = priorities.label(settings, ctx["queue_name"])
    ctx[_STOPPING] = stopping = asyncio.Event()
    ctx[_FLUSHER] = asyncio.create_task(metrics.flush_forever(batch, ctx["redis"], settings, stopping))


async def stop(ctx: Ctx) -> None:
    """On worker shutdown, after the last dead letters are recorded: write what is left."""
    ctx[_STOPPING].set()
    ctx[_FLUSHER].cancel()
    await metrics.flush(ctx[metrics.BATCH], ctx["redis"], ctx["settings"])
    if ctx[_TRACING_SHUTDOWN] is not None:
        ctx[_TRACING_SHUTDOWN]()


async def job_ended(ctx: Ctx) -> None:
    batch: metrics.MetricsBatch | None = ctx.get(metrics.BATCH)
    function: str | None = ctx.get(metrics.FUNCTION)
    if batch is None or function is None:
        return
    labels = (function, ctx[metrics.QUEUE])
    duration = time.monotonic() - ctx[metrics.STARTED]
    outcome: Outcome | None = ctx.get(OUTCOME)
    if outcome != Outcome.DEFERRED:  # a deferral gave its try back: not a try (`jobs_deferred` counts it)
        batch.inc(metrics.JOBS_STARTED, *labels)
        batch.observe(metrics.JOB_DURATION, duration, *labels)
    error: dict[str, str] | None = None
    failure: BaseException | None = ctx.get(FAILURE)
    if failure is not None:
        error = error_of(failure) or {"type": type(failure).__name__, "message": str(failure)}
        batch.failed_try(ctx["job_id"], ctx["job_try"], {**error, "traceback": traceback_of(failure)})
    elif outcome == Outcome.CANCELLED:
        outcome, error = await _why_cancelled(ctx)
        if error is not None:
            batch.failed_try(ctx["job_id"], ctx["job_try"], {**error, "traceback": None})
    if error is not None:
        batch.inc(metrics.JOBS_FAILED, *labels)
    if outcome is None:
        return
    if (counter := COUNTER.get(outcome)) is not None:
        batch.inc(counter, *labels)
    if (status := RECENT_STATUS.get(outcome)) is not None:
        finished_ms = metrics.now_ms()
        batch.finished(status, _summary(ctx, function, status, duration, error, finished_ms), finished_ms)


async def _why_cancelled(ctx: Ctx) -> tuple[Outcome, dict[str, str] | None]:
    """arq stores a timeout and an abort as results; a shutdown stores none (the job runs again)."""
    raw = await ctx["redis"].get(keys.result(ctx["job_id"]))
    if raw is None:
        return Outcome.REQUEUED, None
    result = read_result(raw)
    error = error_of(result.result) if result is not None else None
    if error is None or error["type"] == "CancelledError":
        return Outcome.ABORTED, None
    return Outcome.FAILED, error


def _summary(
    ctx: Ctx, function: str, status: str, duration: float, error: dict[str, str] | None, finished_ms: int
) -> dict[str, Any]:
    return {
        "job_id": ctx["job_id"],
        "function": function,
        "queue": ctx[metrics.QUEUE],
        "status": status,
        "try": ctx["job_try"],
        "finished_at_ms": finished_ms,
        "duration_s": round(duration, 4),
        "error": error,
    }
