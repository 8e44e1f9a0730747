"""`@job`: a job function plus the policy that runs it (tries, timeout, retries, dead letters, log context).

The wrapper is where arq's gaps are closed for every job at once: ordinary exceptions become a `Retry`
with backoff or a dead letter, and each log line carries `job_id`, `function`, `try`, `queue` and the
`request_id` of the HTTP request that enqueued the job.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar

import structlog
from arq import Retry
from arq.worker import Function, func

from jobs import metrics, tracing
from jobs.queues import Priority
from jobs.retry import RetryPolicy
from jobs.serializer import META_KWARG, error_of
from settings import Settings

Ctx = dict[str, Any]
P = ParamSpec("P")
R = TypeVar("R")

OUTCOME = "outcome"  # in the job's ctx for the after-job hooks: complete|retry|deferred|failed|cancelled
FAILURE = "failure"  # set in the job's ctx when the try raised: the exception (metrics, admin traceback)

log = structlog.get_logger("jobs")


class Deferred(Retry):
    """Back to the queue to wait for capacity (a rate or concurrency limit), with its try given back."""


@dataclass(frozen=True)
class JobOptions:
    """Per-job overrides; None means the worker default from `Settings`."""

    max_tries: int | None = None
    timeout_seconds: float | None = None
    keep_result_seconds: int | None = None
    policy: RetryPolicy | None = None
    priority: Priority = "default"  # the queue it goes to unless the enqueue names another (jobs/queues.py)


class JobDefinition(Generic[P, R]):
    """A registered job. Enqueue it by reference: `await queue.enqueue(send_welcome_email, email=...)`."""

    def __init__(self, fn: Callable[Concatenate[Ctx, P], Awaitable[R]], options: JobOptions) -> None:
        self.fn = fn
        self.name = fn.__name__
        self.options = options
        self.__doc__ = fn.__doc__

    def max_tries(self, settings: Settings) -> int:
        return self.options.max_tries or settings.max_tries

    def arq_function(self, settings: Settings) -> Function:
        return func(
            self.run,
            name=self.name,
            max_tries=self.max_tries(settings),
            timeout=self.options.timeout_seconds or settings.job_timeout,
            keep_result=self.options.keep_result_seconds or settings.keep_result_seconds,
        )

    async def run(self, ctx: Ctx, *args: Any, **kwargs: Any) -> R:
        """What the worker calls: run the job under its log context and retry policy."""
        settings: Settings = ctx["settings"]
        meta: dict[str, Any] = kwargs.pop(META_KWARG, None) or {}
        job_try: int = ctx["job_try"]
        structlog.contextvars.bind_contextvars(
            job_id=ctx["job_id"],
            function=self.name,
            queue=ctx.get("queue_name", settings.queue_name),
            request_id=meta.get("request_id"),
            **{"try": job_try},
        )
        metrics.job_started(ctx, self.name)
        started = time.perf_counter()
        try:
            with tracing.job_span(settings, meta, ctx, self.name):  # a no-op unless TRACING_ENABLED
                result = await self.fn(ctx, *args, **kwargs)
        except Deferred:
            ctx[OUTCOME] = "deferred"  # waiting for capacity (jobs.limits), not a failure: no try spent
            raise
        except Retry:
            ctx[OUTCOME] = "retry"
            log.info("job retry requested", duration_s=_since(started))
            raise
        except asyncio.CancelledError:
            ctx[OUTCOME] = "cancelled"
            log.warning("job cancelled", duration_s=_since(started))
            raise
        except Exception as exc:
            self._handle_failure(ctx, exc, started)
            raise  # not reached when _handle_failure raises Retry
        ctx[OUTCOME] = "complete"
        log.info("job complete", duration_s=_since(started))
        return result

    def _handle_failure(self, ctx: Ctx, exc: Exception, started: float) -> None:
        """Raise `Retry` with backoff for a transient error with tries left; else log the failure."""
        ctx[FAILURE] = exc
        settings: Settings = ctx["settings"]
        policy = self.options.policy or default_policy(settings)
        decision = policy.decide(exc, ctx["job_try"], self.max_tries(settings))
        error = error_of(exc) or {"type": type(exc).__name__, "message": str(exc)}
        if decision.retry:
            ctx[OUTCOME] = "retry"
            delay = round(decision.delay_seconds, 3)
            log.warning("job retrying", error=error, retry_in_s=delay, duration_s=_since(started))
            raise Retry(defer=decision.delay_seconds) from exc
        ctx[OUTCOME] = "failed"  # arq stores the failure; jobs.failure_watch dead-letters it
        log.error("job failed", error=error, reason=decision.reason, duration_s=_since(started))


def default_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(settings.retry_base_delay_seconds, settings.retry_max_delay_seconds)


def job(
    *,
    max_tries: int | None = None,
    timeout_seconds: float | None = None,
    keep_result_seconds: int | None = None,
    policy: RetryPolicy | None = None,
    priority: Priority = "default",
) -> Callable[[Callable[Concatenate[Ctx, P], Awaitable[R]]], JobDefinition[P, R]]:
    """Declare a job and its policy next to its definition."""
    options = JobOptions(max_tries, timeout_seconds, keep_result_seconds, policy, priority)

    def wrap(fn: Callable[Concatenate[Ctx, P], Awaitable[R]]) -> JobDefinition[P, R]:
        return JobDefinition(fn, options)

    return wrap


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 4)
