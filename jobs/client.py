"""The typed interface the API uses to talk to the queue: enqueue, status, abort, replay.

Enqueue by reference, so a typo or a wrong argument is a type error, not a job that fails at 3 a.m.:

    job = await queue.enqueue(send_welcome_email, email="a@example.com", name="Ada")
    job = await queue.with_options(job_id="charge-42").enqueue(charge_payment, ...)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, ParamSpec, TypeVar, cast

import structlog
from arq.connections import ArqRedis
from arq.jobs import deserialize_job, serialize_result
from pydantic import BaseModel
from redis.exceptions import RedisError, WatchError

from jobs import dead_letters, idempotency, keys, monitor, queues, tracing
from jobs.definition import JobDefinition
from jobs.enqueue import enqueue_job
from jobs.queues import Priority
from jobs.registry import BY_NAME
from jobs.serializer import META_KWARG, deserialize, serialize
from jobs.status import JobStatus, read_status
from settings import Settings

P = ParamSpec("P")
R = TypeVar("R")

log = structlog.get_logger("jobs.client")


class QueueError(Exception):
    """Base for the queue's named errors; the API maps each to one HTTP status."""


class QueueUnavailable(QueueError):
    """Redis did not answer in time."""


class JobNotFound(QueueError):
    pass


class JobAlreadyFinished(QueueError):
    pass


class DeadLetterNotFound(QueueError):
    pass


@dataclass(frozen=True)
class Enqueued:
    job_id: str
    status: Literal["queued", "deferred"]
    created: bool  # False when a job with this id already existed


@dataclass(frozen=True)
class _Options:
    job_id: str | None = None
    defer_by: timedelta | None = None
    meta: Mapping[str, Any] | None = None
    priority: Priority | None = None  # None: the job's own `@job(priority=...)`


class JobQueue:
    """One per process, on the process's one shared pool."""

    def __init__(self, redis: ArqRedis, settings: Settings, options: _Options | None = None) -> None:
        self.redis = redis
        self.settings = settings
        self._options = options or _Options()

    def with_options(
        self,
        *,
        job_id: str | None = None,
        defer_by: timedelta | None = None,
        priority: Priority | None = None,
        **meta: Any,
    ) -> JobQueue:
        return JobQueue(self.redis, self.settings, _Options(job_id, defer_by, meta or None, priority))

    async def idempotent(self, scope: str, key: str, body: str) -> JobQueue:
        """A queue whose next enqueue uses the job id that `key` maps to (see `jobs.idempotency`)."""
        try:
            job_id = await idempotency.job_id_for(
                self.redis, scope, key, body, self.settings.idempotency_ttl_seconds
            )
        except (RedisError, OSError) as exc:
            raise QueueUnavailable(str(exc)) from exc
        return self.with_options(job_id=job_id)

    async def enqueue(self, job: JobDefinition[P, R], /, *args: P.args, **kwargs: P.kwargs) -> Enqueued:
        meta = {**_request_context(), **tracing.current_context(self.settings), **(self._options.meta or {})}
        try:
            queued = await enqueue_job(  # one round trip, and it wakes an idle worker (jobs/enqueue.py)
                self.redis,
                job.name,
                *args,
                _job_id=self._options.job_id,
                _queue_name=queues.queue_name(self.settings, self._options.priority or job.options.priority),
                _defer_by=self._options.defer_by,
                **cast(dict[str, Any], {**kwargs, META_KWARG: meta}),
            )
        except (RedisError, OSError) as exc:
            raise QueueUnavailable(str(exc)) from exc
        deferred = bool(self._options.defer_by)
        if queued is None:  # that id exists already: queued, running, or its result is kept
            assert self._options.job_id is not None
            return Enqueued(self._options.job_id, "deferred" if deferred else "queued", created=False)
        return Enqueued(queued.job_id, "deferred" if deferred else "queued", created=True)

    async def status(self, job_id: str) -> JobStatus:
        try:
            found = await read_status(self.redis, job_id, queues.all_queue_names(self.settings))
        except (RedisError, OSError) as exc:
            raise QueueUnavailable(str(exc)) from exc
        if found is None:
            raise JobNotFound(job_id)
        definition = BY_NAME.get(found.function)
        found.max_tries = definition.max_tries(self.settings) if definition else self.settings.max_tries
        return found

    async def abort(self, job_id: str) -> None:
        """A queued job is removed at once (and reports `aborted`); a running one is cancelled by its worker.

        arq's own abort of a job that is not running leaves a marker in `arq:abort` that can abort a later
        job with the same id (arq #485); removing the queued job ourselves leaves nothing behind.
        """
        try:
            while True:
                try:
                    return await self._abort_once(job_id)
                except WatchError:
                    continue  # the job changed state under us: look again
        except (RedisError, OSError) as exc:
            raise QueueUnavailable(str(exc)) from exc

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
            for name in queues.all_queue_names(self.settings):  # whichever priority it was enqueued at
                if await pipe.zscore(name, job_id) is not None:
                    queue_name = name
            pipe.multi()  # type: ignore[no-untyped-call]
            if running:
                pipe.zadd(keys.ABORT_SET, {job_id: int(time.time() * 1000)})
            else:
                pipe.zrem(queue_name, job_id)
                pipe.delete(job_key, keys.retry(job_id))
                aborted = _aborted_result(job_id, raw_job, queue_name)
                pipe.set(result_key, aborted, ex=self.settings.keep_result_seconds)
            await pipe.execute()

    async def readiness(self) -> Readiness:
        try:
            await self.redis.ping()
            alive = len(await self._fresh_workers())
        except (RedisError, OSError):
            return Readiness(ready=False, redis=False, workers_alive=0, reasons=["redis does not answer"])
        reasons = [] if alive else ["no worker heartbeat in the last few seconds"]
        return Readiness(ready=not reasons, redis=True, workers_alive=alive, reasons=reasons)

    async def overview(self) -> list[QueueOverview]:
        """Per queue: waiting, deferred, running, live workers; and the dead letters of all queues."""
        try:
            depths = await monitor.queue_depths(self.redis, self.settings)
            dead = await dead_letters.count(self.redis)
        except (RedisError, OSError) as exc:
            raise QueueUnavailable(str(exc)) from exc
        return [
            QueueOverview(
                name=d.name,
                queued=d.queued,
                deferred=d.deferred,
                in_progress=d.in_progress,
                dead=dead,
                workers_alive=d.workers_alive,
            )
            for d in depths
        ]

    async def _fresh_workers(self) -> list[str]:
        since = time.time() - 3 * self.settings.worker_heartbeat_seconds
        return [raw.decode() for raw in await self.redis.zrangebyscore(keys.WORKERS, since, "+inf")]

    async def dead_letters(self, limit: int, cursor: str | None) -> dead_letters.DeadLetterPage:
        try:
            return await dead_letters.page(self.redis, limit, cursor)
        except (RedisError, OSError) as exc:
            raise QueueUnavailable(str(exc)) from exc

    async def replay(self, job_id: str) -> Enqueued:
        """Enqueue a dead letter again as a new job; its meta `replay_of` links back to the original."""
        try:
            letter = await dead_letters.get(self.redis, job_id)
            if letter is None or not await self.redis.zscore(keys.DEAD_LETTERS, job_id):
                raise DeadLetterNotFound(job_id)
            meta = {**_request_context(), "replay_of": job_id}
            queued = await self.redis.enqueue_job(
                letter.function, *letter.args, **{**letter.keyword_args, META_KWARG: meta}
            )
            assert queued is not None  # a fresh random id cannot exist
            await dead_letters.remove(self.redis, job_id)
        except (RedisError, OSError) as exc:
            raise QueueUnavailable(str(exc)) from exc
        log.info("dead letter replayed", original_job_id=job_id, new_job_id=queued.job_id)
        return Enqueued(queued.job_id, "queued", created=True)

    async def replay_since(self, since_seconds: int) -> list[Enqueued]:
        try:
            ids = await dead_letters.ids_since(self.redis, since_seconds)
        except (RedisError, OSError) as exc:
            raise QueueUnavailable(str(exc)) from exc
        replayed = []
        for job_id in ids:
            try:
                replayed.append(await self.replay(job_id))
            except DeadLetterNotFound:
                continue  # replayed concurrently by someone else
        return replayed


def _request_context() -> dict[str, Any]:
    """The enqueuing request's id, carried in the job so the worker's log lines show it."""
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    return {"request_id": request_id} if request_id else {}


def _aborted_result(job_id: str, raw_job: bytes, queue_name: str) -> bytes:
    """An arq result that says "cancelled before it started", so status reads `aborted`."""
    job = deserialize_job(raw_job, deserializer=deserialize)
    now_ms = int(time.time() * 1000)
    data = serialize_result(
        job.function,
        job.args,
        job.kwargs,
        job.job_try or 0,
        int(job.enqueue_time.timestamp() * 1000),
        False,
        asyncio.CancelledError("aborted before it started"),
        now_ms,
        now_ms,
        f"{job_id}:{job.function}",
        queue_name,
        job_id,
        serializer=serialize,
    )
    assert data is not None
    return data


class Readiness(BaseModel):
    ready: bool
    redis: bool
    workers_alive: int
    reasons: list[str]


class QueueOverview(BaseModel):
    name: str
    queued: int
    deferred: int
    in_progress: int
    dead: int
    workers_alive: int
