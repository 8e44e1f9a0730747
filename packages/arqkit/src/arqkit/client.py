"""The job client producers use: enqueue, status, abort. One per process, made in the app's lifespan.

Enqueue by reference, so a typo or a wrong argument is a type error, not a job that fails at 3 a.m.:

    job = await queue.enqueue(send_welcome_email, email="a@example.com", name="Ada")
    job = await queue.with_options(job_id="charge-42").enqueue(charge_payment, ...)
    job = await queue.admitted_by(admission).enqueue(...)  # a rate limit, decided in the same Redis call

Operating the queue (dead letters, replay, depth, workers) is `QueueAdmin` (`admin.py`), a separate
interface on the same pool.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Literal, ParamSpec, TypeVar, cast

import structlog
from pydantic import BaseModel
from redis.asyncio import Redis
from redis.exceptions import RedisError, WatchError

from arqkit import flow_status, flows, idempotency, job_ids, keys, priorities, tracing
from arqkit.clock import redis_now
from arqkit.errors import (
    EnqueueUnconfirmed,
    JobAlreadyFinished,
    JobNotFound,
    JobNotRegistered,
    RateLimited,
    unavailable_on_redis_error,
)
from arqkit.internals.connection import ArqRedis, create_api_redis
from arqkit.internals.enqueue import Enqueuer
from arqkit.internals.layout import aborted_result, read_job
from arqkit.job import JobDefinition
from arqkit.priorities import Priority
from arqkit.registry import Registry
from arqkit.settings import QueueSettings
from arqkit.sliding_window import Admission, Decision
from arqkit.status import JobStatus, read_status
from arqkit.unique import UniqueLock, lock_for

P = ParamSpec("P")
R = TypeVar("R")

log = structlog.get_logger("jobs.client")


@dataclass(frozen=True)
class Enqueued:
    job_id: str
    status: Literal["queued", "deferred"]
    created: bool  # False when a job with this id already existed
    admission: Decision | None = None  # the rate limit the enqueue passed (`admitted_by`), if any


@dataclass(frozen=True)
class _Options:
    job_id: str | None = None
    defer_by: timedelta | None = None
    meta: Mapping[str, Any] | None = None
    priority: Priority | None = None  # None: the job's own `@job(priority=...)`
    admission: Admission | None = None
    idempotency: tuple[str, str, str] | None = None  # scope, Idempotency-Key, request fingerprint


class Readiness(BaseModel):
    ready: bool
    redis: bool
    workers_alive: int
    reasons: list[str]  # why not ready (a 503)
    warnings: list[
        str
    ] = []  # problems that leave the API ready, e.g. a queue with waiting jobs and no worker


class JobQueue:
    """The typed client on the process's one shared pool; `with_options` returns a sibling on the same."""

    def __init__(
        self,
        redis: ArqRedis,
        settings: QueueSettings,
        registry: Registry,
        *,
        enqueuer: Enqueuer | None = None,
    ) -> None:
        self.redis = redis
        self.settings = settings
        self.registry = registry
        self._enqueuer = enqueuer or Enqueuer(
            redis,
            min_replicas=settings.redis_min_replicas,  # 202 only once this many replicas have the job
            replica_timeout_seconds=settings.redis_min_replicas_timeout_seconds,
        )
        self._options = _Options()

    @classmethod
    def connect(cls, settings: QueueSettings, registry: Registry) -> JobQueue:
        """A client on a pool of its own: short timeouts, so a Redis outage is a fast `QueueUnavailable`.
        It connects lazily: a process starts even while Redis is away."""
        return cls(create_api_redis(settings), settings, registry)

    async def aclose(self) -> None:
        await self.redis.aclose()

    def with_options(
        self,
        *,
        job_id: str | None = None,
        defer_by: timedelta | None = None,
        priority: Priority | None = None,
        **meta: Any,
    ) -> JobQueue:
        return self._sibling(
            replace(self._options, job_id=job_id, defer_by=defer_by, meta=meta or None, priority=priority)
        )

    def admitted_by(self, admission: Admission) -> JobQueue:
        """A queue whose next enqueue first passes `admission` (a rate limit), in the same Redis call:
        refused, it raises `RateLimited` and writes nothing. One round trip for both."""
        return self._sibling(replace(self._options, admission=admission))

    def _sibling(self, options: _Options) -> JobQueue:
        sibling = JobQueue(self.redis, self.settings, self.registry, enqueuer=self._enqueuer)
        sibling._options = options
        return sibling

    async def idempotent(self, scope: str, key: str, body: str) -> JobQueue:
        """A queue whose next enqueue uses the job id that `key` maps to in `scope` (`idempotency.py`):
        the same key and body, the same job. The key is looked up (and recorded) by that enqueue, so a
        request refused before it enqueues records nothing; `IdempotencyKeyReused` comes from there."""
        return self._sibling(replace(self._options, idempotency=(scope, key, body)))

    async def enqueue(self, job: JobDefinition[P, R], /, *args: P.args, **kwargs: P.kwargs) -> Enqueued:
        """Arguments are checked against the job's signature and stored as JSON (`arguments.py`): one
        that does not fit raises `JobArgumentsInvalid` before anything is written; so does a job this
        queue's registry does not hold (`JobNotRegistered`): no worker would run it.
        A unique job whose key is taken answers with the job that holds it, `created=False` (`unique.py`)."""
        priority = self._options.priority or job.options.priority
        json_args, json_kwargs = job.arguments.encode(args, cast(dict[str, Any], kwargs))
        if self.registry.get(job.name) is not job:
            raise JobNotRegistered(f"{job.name!r} is not in the registry: add it to the Registry(...) list")
        once = job.options.unique
        lock = lock_for(job.name, job.arguments, once, json_args, json_kwargs) if once else None
        return await self.enqueue_named(
            job.name, json_args, json_kwargs, priorities.queue_name(self.settings, priority), unique=lock
        )

    async def enqueue_flow(self, flow: flows.Flow | flows.Group, *, key: str | None = None) -> Enqueued:
        """Start a flow (`flows.py`): its first stage is enqueued at once, the next as each one succeeds.
        The answer's `job_id` is the flow's: `status` and `abort` take it. With a `key` (an order's id),
        the same key gives the same flow (`created` False the second time): its id is derived from the key
        with JOB_ID_SECRET, so it stays unguessable."""
        options = self._options
        flow_id = options.job_id and keys.FLOW_ID_PREFIX + options.job_id.removeprefix(keys.FLOW_ID_PREFIX)
        if key is not None:
            flow_id = keys.FLOW_ID_PREFIX + job_ids.derive(self.settings, "flow", key)
        meta = {**request_context(), **tracing.current_context(self.settings), **(options.meta or {})}
        with unavailable_on_redis_error():
            flow_id, created = await flows.start(
                self.redis, self.settings, flow, registry=self.registry, flow_id=flow_id, meta=meta
            )
        log.info("flow started", flow_id=flow_id, created=created)
        return Enqueued(flow_id, "queued", created)

    async def enqueue_named(
        self,
        function: str,
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        queue_name: str,
        meta: Mapping[str, Any] | None = None,
        *,
        unique: UniqueLock | None = None,
    ) -> Enqueued:
        """Enqueue by name on `queue_name`: for replays and operators; producers use `enqueue`.

        The arguments go as they are (a replay's are the stored JSON); the worker decodes them."""
        meta = {
            **request_context(),
            **tracing.current_context(self.settings),
            **(self._options.meta or {}),
            **(meta or {}),
        }
        options = self._options
        job_id = options.job_id
        # Any Redis error from here on may come after the write: "may be queued" (EnqueueUnconfirmed).
        with unavailable_on_redis_error(EnqueueUnconfirmed):
            if options.idempotency is not None:
                scope, key, body = options.idempotency
                ttl = self.settings.idempotency_ttl_seconds
                job_id = await idempotency.job_id_for(self.redis, scope, key, body, ttl, self.settings)
            written = await self._enqueuer.write(  # one round trip; wakes an idle worker
                function,
                tuple(args),
                dict(kwargs),
                job_id=job_id,
                queue_name=queue_name,
                defer_by=options.defer_by,
                admission=options.admission,
                meta=meta,
                unique=unique,
            )
        if written.admission is not None and not written.admission.admitted:
            assert options.admission is not None
            raise RateLimited(options.admission.rate, written.admission)
        status: Literal["queued", "deferred"] = "deferred" if options.defer_by else "queued"
        # Not created: that id exists already (queued, running, or its result is kept), or it is the id
        # of the job that holds the unique key.
        return Enqueued(written.job_id, status, written.created, written.admission)

    async def status(self, job_id: str) -> JobStatus:
        if flows.is_flow_id(job_id):  # a flow_status.FlowStatus: the flow's and each step's
            names = priorities.all_queue_names(self.settings)
            with unavailable_on_redis_error():
                flow = await flow_status.read_flow(self.redis, job_id, names)
            if flow is None:
                raise JobNotFound(job_id)
            return flow
        with unavailable_on_redis_error():
            found = await read_status(self.redis, job_id, priorities.all_queue_names(self.settings))
        if found is None:
            raise JobNotFound(job_id)
        definition = self.registry.get(found.function)
        found.max_tries = definition.max_tries(self.settings) if definition else self.settings.max_tries
        return found

    async def abort(self, job_id: str) -> None:
        """A queued job is removed at once (and reports `aborted`); a running one is cancelled by its worker.

        arq's own abort of a job that is not running leaves a marker in `arq:abort` that can abort a later
        job with the same id (arq #485); removing the queued job ourselves leaves nothing behind.
        """
        if flows.is_flow_id(job_id):
            return await flow_status.abort(self, job_id)
        with unavailable_on_redis_error():
            while True:
                try:
                    return await self._abort_once(job_id)
                except WatchError:
                    continue  # the job changed state under us: look again

    async def _abort_once(self, job_id: str) -> None:
        job_key, result_key, in_progress_key = keys.job(job_id), keys.result(job_id), keys.in_progress(job_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            await pipe.watch(job_key, result_key, in_progress_key)
            if await pipe.exists(result_key):
                raise JobAlreadyFinished(job_id)
            raw_job = await pipe.get(job_key)
            if raw_job is None:
                raise JobNotFound(job_id)
            running = await pipe.exists(in_progress_key)
            queue_name = self.settings.queue_name
            for name in priorities.all_queue_names(self.settings):  # whichever priority it was enqueued at
                if await pipe.zscore(name, job_id) is not None:
                    queue_name = name
            pipe.multi()  # type: ignore[no-untyped-call]
            if running:
                pipe.zadd(keys.ABORT_SET, {job_id: int(time.time() * 1000)})
            else:
                pipe.zrem(queue_name, job_id)
                pipe.delete(job_key, keys.retry(job_id))
                job = read_job(raw_job)
                if job is not None:
                    aborted = aborted_result(job_id, job, queue_name)
                    pipe.set(result_key, aborted, ex=self.settings.keep_result_seconds)
                    # a flow's step: its end (aborted) advances its flow in this same transaction
                    ended = {"id": job_id, "k": job.kwargs, "s": False, "r": asyncio.CancelledError()}
                    if (advance := flows.finish_command(ended)) is not None:
                        pipe.execute_command(*advance)
            await pipe.execute()

    async def readiness(self) -> Readiness:
        try:
            await self.redis.ping()
            alive = len(await fresh_workers(self.redis, self.settings))
        except (RedisError, OSError):
            return Readiness(ready=False, redis=False, workers_alive=0, reasons=["redis does not answer"])
        reasons = [] if alive else ["no worker heartbeat in the last few seconds"]
        return Readiness(ready=not reasons, redis=True, workers_alive=alive, reasons=reasons)


async def fresh_workers(redis: Redis, settings: QueueSettings) -> list[str]:
    """The ids of workers whose heartbeat is fresh (three intervals)."""
    since = await redis_now(redis) - 3 * settings.worker_heartbeat_seconds
    return [raw.decode() for raw in await redis.zrangebyscore(keys.WORKERS, since, "+inf")]


def request_context() -> dict[str, Any]:
    """The enqueuing request's id, carried in the job so the worker's log lines show it."""
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    return {"request_id": request_id} if request_id else {}
