"""`@job`: a job function plus the policy that runs it (tries, timeout, retries, dead letters, log context).

The wrapper is where arq's gaps are closed for every job at once: ordinary exceptions become a `Retry`
with backoff or a dead letter, and each log line carries `job_id`, `function`, `try`, `queue` and the
`request_id` of the HTTP request that enqueued the job. A plain `def` gets the same policy and runs in a
thread, or with `executor="process"` in a process (`arqkit.sync_jobs`).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Concatenate, Generic, Literal, ParamSpec, Protocol, TypeVar, overload
from zoneinfo import ZoneInfo

import structlog

from arqkit import metrics, per_key, tracing
from arqkit.arguments import Arguments, JobPayloadInvalid
from arqkit.context import JobContext, SyncJobContext
from arqkit.internals import Retry
from arqkit.internals.claims import refund_try
from arqkit.per_key import PerKey
from arqkit.priorities import Priority
from arqkit.retry import Decision, RetryPolicy
from arqkit.serializer import META_KWARG, error_of
from arqkit.settings import QueueSettings
from arqkit.sync_jobs import Executor
from arqkit.unique import Unique, lock_for

Ctx = dict[str, Any]  # arq's ctx: the worker's, and each try's copy of it (the machinery's side)
AnyContext = JobContext[Any, Any]
AnySyncContext = SyncJobContext[Any, Any]
P = ParamSpec("P")
R = TypeVar("R")


class Outcome(StrEnum):
    """How one try ended, as the `@job` wrapper saw it (the after-job hook refines `CANCELLED`)."""

    COMPLETE = "complete"
    RETRY = "retry"  # an error that is not permanent, with tries left, or the job raised `Retry`
    DEFERRED = "deferred"  # waiting for capacity (`arqkit.capacity`): no try spent
    FAILED = "failed"  # a permanent error, or the last try: a dead letter
    CANCELLED = "cancelled"  # an abort, a timeout or a shutdown; the after-job hook tells which
    ABORTED = "aborted"  # a cancellation that stored a result: `DELETE /jobs/{id}`
    REQUEUED = "requeued"  # a cancellation by shutdown: the job runs again, its try refunded


OUTCOME = "outcome"  # job ctx key: the try's `Outcome`, for the after-job hooks
FAILURE = "failure"  # job ctx key: the exception the try raised (metrics, admin traceback)
RESULT_TAP = "result_tap"  # worker ctx key: the worker's `ResultTap` (internals/result_tap.py)
RESOURCES = "resources"  # worker ctx key: what the worker lifespan yielded (arqkit.context)
RUNNING = "running"  # worker ctx key: its claimed jobs (`internals.claims.RunningJobs`)
SYNC_RUNNER = "sync_runner"  # worker ctx key: threads and processes for `def` jobs (`arqkit.sync_jobs`)
UNIQUE_LOCK = "unique_lock"  # job ctx key: a unique job's lock, released after its finish (hooks.py)

log = structlog.get_logger("jobs")


class Deferred(Retry):
    """Back to the queue to wait for capacity (a rate or concurrency limit), with its try given back."""


@dataclass(frozen=True)
class Cron:
    """When a cron job runs, as arq's `cron()` takes it: each field a value, a set of values, or None
    for "any". `Cron(hour=7, minute=0)` is 07:00 UTC every day (`tz="Europe/Paris"`: 07:00 there); every
    worker of the default queue may fire it and it still runs once per tick (its job id is the tick's).

    Misfires: a tick that passes while no worker of the default queue runs (a deploy, an outage) is
    skipped by default. With `catch_up_seconds=N`, the first worker to start runs the last tick it
    missed, if that tick is at most N seconds old (and still only once, however many workers start)."""

    month: int | set[int] | None = None
    day: int | set[int] | None = None
    weekday: int | Literal["mon", "tues", "wed", "thurs", "fri", "sat", "sun"] | set[int] | None = None
    hour: int | set[int] | None = None
    minute: int | set[int] | None = None
    second: int | set[int] = 0
    run_at_startup: bool = False
    tz: str = "UTC"  # an IANA time zone name: the schedule's wall clock
    catch_up_seconds: float = 0  # 0: a missed tick is skipped; N: run the last one missed within N s

    def __post_init__(self) -> None:
        ZoneInfo(self.tz)  # an unknown zone fails where the job is declared, not in the worker
        if self.catch_up_seconds < 0:
            raise ValueError("catch_up_seconds must be >= 0")


@dataclass(frozen=True)
class JobOptions:
    """Per-job overrides; None means the worker default from `QueueSettings`."""

    max_tries: int | None = None
    timeout_seconds: float | None = None
    keep_result_seconds: int | None = None
    policy: RetryPolicy | None = None
    priority: Priority = "default"  # its queue unless the enqueue names another (arqkit/priorities.py)
    cron: Cron | None = None  # a schedule: the worker of the default queue enqueues it on each tick
    executor: Executor | None = None  # a `def` job's: "thread" (the default) or "process"
    editable: bool = True  # False: an operator may replay its dead letters only with their own arguments
    unique: Unique | None = None  # one job per key while queued or running, or per window (unique.py)
    concurrency: PerKey | None = None  # at most N runs at once per key, across workers (per_key.py)


class JobDefinition(Generic[P, R]):
    """A registered job. Enqueue it by reference: `await queue.enqueue(send_welcome_email, email=...)`."""

    def __init__(self, fn: Callable[..., Any], options: JobOptions) -> None:
        self.fn = fn
        self.name = fn.__name__
        self.options = options
        # None: an `async def`, awaited on the worker's loop; else where the `def` runs
        self.executor: Executor | None = (
            None if inspect.iscoroutinefunction(fn) else options.executor or "thread"
        )
        self.arguments = Arguments(fn)  # its signature as a schema: typed arguments, still JSON
        if options.unique is not None:
            self.arguments.check_names(options.unique.arguments, "unique=Unique(...)")
        if options.concurrency is not None:
            self.arguments.check_names(options.concurrency.arguments, "concurrency=PerKey(...)")
        self.__doc__ = fn.__doc__

    def max_tries(self, settings: QueueSettings) -> int:
        return self.options.max_tries or settings.max_tries

    def timeout_seconds(self, settings: QueueSettings) -> float:
        return self.options.timeout_seconds or settings.job_timeout

    def keep_result_seconds(self, settings: QueueSettings) -> int:
        return self.options.keep_result_seconds or settings.keep_result_seconds

    async def run(self, ctx: Ctx, *args: Any, **kwargs: Any) -> R:
        """What the worker calls: run the job under its log context and retry policy."""
        settings: QueueSettings = ctx["settings"]
        meta: dict[str, Any] = kwargs.pop(META_KWARG, None) or {}
        job_try: int = ctx["job_try"]
        queue: str = ctx.get("queue_name", settings.queue_name)
        structlog.contextvars.bind_contextvars(
            job_id=ctx["job_id"],
            function=self.name,
            queue=queue,
            request_id=meta.get("request_id"),
            **{"try": job_try},
        )
        if RUNNING in ctx:  # its claim is renewed until its timeout, plus a grace (internals/claim_keeper.py)
            ctx[RUNNING].started(ctx["job_id"], self.name, self.timeout_seconds(settings))
        metrics.job_started(ctx, self.name)
        started = time.perf_counter()
        try:
            with tracing.job_span(settings, meta, ctx, self.name):  # a no-op unless TRACING_ENABLED
                typed_args, typed_kwargs = self.arguments.decode(args, kwargs)
                if self.options.unique is not None:  # released after the finish (hooks.py)
                    ctx[UNIQUE_LOCK] = lock_for(self.name, self.arguments, self.options.unique, args, kwargs)
                async with self._slot_of_its_key(ctx, args, kwargs):
                    result = await self._call(ctx, job_try, queue, typed_args, typed_kwargs)
        except Deferred:
            ctx[OUTCOME] = (
                Outcome.DEFERRED
            )  # waiting for capacity (arqkit.capacity), not a failure: no try spent
            raise
        except Retry:
            ctx[OUTCOME] = Outcome.RETRY
            log.info("job retry requested", duration_s=_since(started))
            raise
        except asyncio.CancelledError:
            ctx[OUTCOME] = Outcome.CANCELLED
            log.warning("job cancelled", duration_s=_since(started))
            raise
        except Exception as exc:
            self._handle_failure(ctx, exc, started)
            raise  # not reached when _handle_failure raises Retry
        ctx[OUTCOME] = Outcome.COMPLETE
        log.info("job complete", duration_s=_since(started))
        return result

    @contextlib.asynccontextmanager
    async def _slot_of_its_key(self, ctx: Ctx, args: Any, kwargs: Any) -> AsyncIterator[None]:
        """With `concurrency=PerKey(...)`: hold a slot of the key the arguments name while the job runs, or
        go back to the queue (`Deferred`, the try given back) when the key's cap is reached."""
        cap = self.options.concurrency
        if cap is None:
            yield
            return
        settings: QueueSettings = ctx["settings"]
        redis, job_id = ctx["redis"], ctx["job_id"]
        lease = await per_key.acquire(cap, self.name, self.arguments, redis, settings, job_id, args, kwargs)
        if isinstance(lease, per_key.Refused):
            await refund_try(redis, job_id)
            delay = lease.wait_seconds(cap.limit, settings)
            reason = f"per-key concurrency limit {cap.limit}"
            log.info("job deferred", reason=reason, waiting_ahead=lease.ahead, defer_s=round(delay, 3))
            raise Deferred(defer=delay)
        try:
            yield
        finally:
            await lease.release()

    async def _call(self, ctx: Ctx, job_try: int, queue: str, args: list[Any], kwargs: dict[str, Any]) -> R:
        settings, resources = ctx["settings"], ctx.get(RESOURCES)
        if self.executor is None:
            job_ctx = JobContext(ctx["job_id"], job_try, queue, settings, resources, ctx["redis"], ctx)
            result: R = await self.fn(job_ctx, *args, **kwargs)
            return result
        if self.executor == "process":
            resources = None  # they stay in the worker
        sync_ctx = SyncJobContext(ctx["job_id"], job_try, queue, settings, resources)
        result = await ctx[SYNC_RUNNER].run(self.fn, self.executor, sync_ctx, args, kwargs)
        return result

    def _handle_failure(self, ctx: Ctx, exc: Exception, started: float) -> None:
        """Raise `Retry` with backoff unless the error is permanent or this was the last try; else log it."""
        ctx[FAILURE] = exc
        settings: QueueSettings = ctx["settings"]
        policy = self.options.policy or default_policy(settings)
        if isinstance(exc, JobPayloadInvalid):  # whatever the policy: the same payload cannot fit next time
            decision = Decision(retry=False, reason="payload does not fit the signature")
        else:
            decision = policy.decide(exc, ctx["job_try"], self.max_tries(settings))
        error = error_of(exc) or {"type": type(exc).__name__, "message": str(exc)}
        if decision.retry:
            ctx[OUTCOME] = Outcome.RETRY
            delay = round(decision.delay_seconds, 3)
            log.warning("job retrying", error=error, retry_in_s=delay, duration_s=_since(started))
            raise Retry(defer=decision.delay_seconds) from exc
        ctx[OUTCOME] = Outcome.FAILED  # arq stores the failure; internals/result_tap.py dead-letters it
        log.error("job failed", error=error, reason=decision.reason, duration_s=_since(started))


def default_policy(settings: QueueSettings) -> RetryPolicy:
    return RetryPolicy(settings.retry_base_delay_seconds, settings.retry_max_delay_seconds)


class JobDecorator(Protocol):
    """`@job(...)` on an `async def` (its ctx a `JobContext`) or a `def` (a `SyncJobContext`)."""

    @overload
    def __call__(self, fn: Callable[Concatenate[AnyContext, P], Awaitable[R]], /) -> JobDefinition[P, R]: ...

    @overload
    def __call__(self, fn: Callable[Concatenate[AnySyncContext, P], R], /) -> JobDefinition[P, R]: ...


def job(
    *,
    max_tries: int | None = None,
    timeout_seconds: float | None = None,
    keep_result_seconds: int | None = None,
    policy: RetryPolicy | None = None,
    priority: Priority = "default",
    cron: Cron | None = None,
    executor: Executor | None = None,
    editable: bool = True,
    unique: Unique | None = None,
    concurrency: PerKey | None = None,
) -> JobDecorator:
    """Declare a job and its whole policy next to its definition; `cron=Cron(...)` also schedules it.
    A plain `def` runs in a thread; `executor="process"` runs it in a process (CPU-bound work).
    `editable=False`: its dead letters are never replayed with edited arguments (e.g. a payment's amount).
    `unique=Unique("user_id")`: one job per user while queued or running (`for_seconds=N`: per window);
    `concurrency=PerKey("tenant_id", limit=2)`: at most 2 running per tenant, across all workers."""
    options = JobOptions(
        max_tries,
        timeout_seconds,
        keep_result_seconds,
        policy,
        priority,
        cron,
        executor,
        editable=editable,
        unique=unique,
        concurrency=concurrency,
    )

    def wrap(fn: Callable[..., Any], /) -> JobDefinition[Any, Any]:
        if executor is not None and inspect.iscoroutinefunction(fn):
            raise TypeError(
                f"{fn.__name__}: executor= is for a plain def; an async def runs on the event loop"
            )
        return JobDefinition(fn, options)

    return wrap


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 4)
