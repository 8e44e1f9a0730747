"""Enqueue in one round trip: a Lua script that writes exactly what arq's `enqueue_job` writes.

arq's `enqueue_job` costs three round trips (WATCH + EXISTS, then MULTI/PSETEX/ZADD/EXEC). This does the
same check and the same two writes atomically in one EVALSHA: the job key (same payload, same TTL) and
the queue entry (same score), so a stock arq worker runs the job and arq's `Job` reads it. Dedup is
arq's: an id whose job key or result key exists is not enqueued again (`None`, as `enqueue_job` says).

It also pushes a wake-up token for the queue (see `wakeup.py`), so an idle worker starts the job at
once instead of at its next poll. Given an `Admission` (a producer's rate limit), the same call decides
it first and writes nothing when it refuses: a rate-limited enqueue is still one round trip. Given a
unique job's `UniqueLock` (`arqkit/unique.py`), the same call checks it and takes it with the write: a
held lock writes nothing and answers its holder's id.
`tests/internals/test_enqueue.py` pins all of this against arq itself.

With `min_replicas` (REDIS_MIN_REPLICAS), the batch's pipeline ends with `WAIT min_replicas timeout`: on
the same connection, so it covers these writes (and, replication being one stream, every write made
before them, such as the Idempotency-Key's). Fewer acknowledgements in time: `ReplicationTimeout` for
every caller of the batch, although their jobs are on the primary.

Each pool has one `Enqueuer` (the API's is made with its `JobQueue`, in the lifespan): it holds the
batch of the current event-loop turn and the tasks that send it.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from os import urandom
from typing import Any

from arq.connections import ArqRedis
from arq.jobs import Job, serialize_job
from arq.utils import timestamp_ms, to_ms, to_unix_ms
from redis.exceptions import NoScriptError

from arqkit import keys, lua
from arqkit.errors import ReplicationTimeout
from arqkit.serializer import META_FIELD, serialize
from arqkit.sliding_window import Admission, Decision
from arqkit.unique import UniqueLock

# Enough tokens to wake this many idle workers at once; more would only cost idle workers empty polls.
WAKE_TOKENS_MAX = 16


@dataclass(frozen=True)
class Written:
    job_id: str
    queue_name: str
    created: bool  # False: the id existed already, or a unique lock's holder is `job_id` (or the
    # admission refused): nothing was written
    admission: Decision | None = None  # the rate limit's answer, when the enqueue was asked to pass one


def _with_meta(
    serializer: Callable[[dict[str, Any]], bytes], meta: dict[str, Any], data: dict[str, Any]
) -> bytes:
    return serializer({**data, META_FIELD: meta})


class Enqueuer:
    """`ArqRedis.enqueue_job` in one round trip, batched: the enqueues made in one event-loop turn go to
    Redis as one pipeline (one connection checkout, one write, one read instead of N). Alone, an enqueue
    still leaves on the next loop turn. Each EVALSHA stays atomic on its own; an error reaches every
    caller of that batch."""

    def __init__(
        self, redis: ArqRedis, *, min_replicas: int = 0, replica_timeout_seconds: float = 0.5
    ) -> None:
        self.redis = redis
        self.min_replicas = min_replicas
        self.replica_timeout_ms = max(
            1, round(replica_timeout_seconds * 1000)
        )  # WAIT's 0 would block forever
        self._script = redis.register_script(lua.source("enqueue"))
        self._pending: list[tuple[list[str], list[Any], asyncio.Future[Any]]] = []
        self._in_flight: set[asyncio.Future[None]] = set()  # a task must be referenced until it is done

    async def enqueue_job(
        self,
        function: str,
        *args: Any,
        _job_id: str | None = None,
        _queue_name: str | None = None,
        _defer_until: datetime | None = None,
        _defer_by: int | float | timedelta | None = None,
        _expires: int | float | timedelta | None = None,
        _job_try: int | None = None,
        **kwargs: Any,
    ) -> Job | None:
        """Same arguments and answer as `ArqRedis.enqueue_job`: `None` when the id exists already."""
        written = await self.write(
            function,
            args,
            kwargs,
            job_id=_job_id,
            queue_name=_queue_name,
            defer_until=_defer_until,
            defer_by=_defer_by,
            expires=_expires,
            job_try=_job_try,
        )
        if not written.created:
            return None
        deserializer = self.redis.job_deserializer
        return Job(written.job_id, self.redis, _queue_name=written.queue_name, _deserializer=deserializer)

    async def write(
        self,
        function: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        job_id: str | None = None,
        queue_name: str | None = None,
        defer_until: datetime | None = None,
        defer_by: int | float | timedelta | None = None,
        expires: int | float | timedelta | None = None,
        job_try: int | None = None,
        admission: Admission | None = None,
        meta: Mapping[str, Any] | None = None,
        unique: UniqueLock | None = None,
    ) -> Written:
        """`enqueue_job`'s work, answered as `Written`. With an `admission`, its rate limit is decided first,
        in the same call: refused, nothing is written. `meta` (the enqueuer's context) is stored beside
        arq's fields, not in the kwargs, where a stock arq worker would pass it to the function."""
        if defer_until and defer_by:
            raise RuntimeError("use either 'defer_until' or 'defer_by' or neither, not both")
        redis = self.redis
        queue_name = queue_name or redis.default_queue_name
        job_id = job_id or urandom(16).hex()  # as uuid4().hex: 128 random bits, a quarter of the cost
        enqueue_time_ms = timestamp_ms()
        if defer_until is not None:
            score = to_unix_ms(defer_until)
        else:
            score = enqueue_time_ms + (to_ms(defer_by) or 0)
        ttl_ms = to_ms(expires) or score - enqueue_time_ms + redis.expires_extra_ms
        serializer = redis.job_serializer
        if meta:
            serializer = functools.partial(_with_meta, serializer or serialize, dict(meta))
        payload = serialize_job(function, args, kwargs, job_try, enqueue_time_ms, serializer=serializer)
        script_keys = [keys.job(job_id), keys.result(job_id), queue_name, keys.wake(queue_name)]
        script_args: list[Any] = [job_id, payload, score, ttl_ms, WAKE_TOKENS_MAX]
        if admission is not None:
            script_keys.append(admission.window)
            script_args += ["window", admission.rate.count, admission.rate.period_ms, urandom(16).hex()]
        if unique is not None:  # while active, the lock lives as long as the job key may (a backstop)
            script_keys.append(unique.key)
            script_args += ["unique", unique.window_ms or ttl_ms, 0 if unique.window_ms else 1]
        reply = await self._run(script_keys, script_args)
        that, *decision = reply if admission is not None else [reply]
        if isinstance(that, bytes):  # the unique lock's holder: nothing written
            job_id, that = that.decode(), 0
        admitted = Decision.from_reply(admission.rate, decision) if admission is not None else None
        return Written(job_id, queue_name, bool(that), admitted)

    async def _run(self, script_keys: list[str], args: list[Any]) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)
        self._pending.append((script_keys, args, future))
        return await future

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.ensure_future(self._send(batch))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _send(self, batch: list[tuple[list[str], list[Any], asyncio.Future[Any]]]) -> None:
        try:
            try:
                replies = await self._execute(batch)
            except NoScriptError:  # Redis restarted or its script cache was flushed: load it, once
                await self.redis.script_load(self._script.script)
                replies = await self._execute(batch)
        except BaseException as exc:  # every caller of the batch gets the error (e.g. Redis away: 503)
            for *_, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (*_, future), reply in zip(batch, replies, strict=True):
            if not future.done():
                future.set_result(reply)

    async def _execute(self, batch: list[tuple[list[str], list[Any], asyncio.Future[Any]]]) -> list[Any]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for script_keys, args, _ in batch:
                pipe.evalsha(self._script.sha, len(script_keys), *script_keys, *args)
            if self.min_replicas:
                pipe.wait(self.min_replicas, self.replica_timeout_ms)
            replies: list[Any] = await pipe.execute()
        if not self.min_replicas:
            return replies
        *replies, acknowledged = replies
        if acknowledged < self.min_replicas:
            wanted, within = self.min_replicas, self.replica_timeout_ms
            raise ReplicationTimeout(
                f"{acknowledged} of {wanted} replicas confirmed the job within {within} ms"
            )
        return replies
