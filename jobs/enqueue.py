"""Enqueue in one round trip: a Lua script that writes exactly what arq's `enqueue_job` writes.

arq's `enqueue_job` costs three round trips (WATCH + EXISTS, then MULTI/PSETEX/ZADD/EXEC). This does the
same check and the same two writes atomically in one EVALSHA: the job key (same payload, same TTL) and
the queue entry (same score), so a stock arq worker runs the job and arq's `Job` reads it. Dedup is
arq's: an id whose job key or result key exists is not enqueued again (`None`, as `enqueue_job` says).

It also pushes a wake-up token for the queue (see `jobs.wakeup`), so an idle worker starts the job at
once instead of at its next poll. `tests/test_enqueue_script.py` pins all of this against arq itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import weakref
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from arq.connections import ArqRedis
from arq.jobs import Job, serialize_job
from arq.utils import timestamp_ms, to_ms, to_unix_ms
from redis.exceptions import NoScriptError

from jobs import keys

# Enough tokens to wake this many idle workers at once; more would only cost idle workers empty polls.
WAKE_TOKENS_MAX = 16

ENQUEUE_SCRIPT = """
-- KEYS: job, result, queue, wake list. ARGV: job id, payload, score (ms), job TTL (ms), wake tokens max
if redis.call('EXISTS', KEYS[1], KEYS[2]) ~= 0 then
  return 0
end
redis.call('PSETEX', KEYS[1], ARGV[4], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
if redis.call('LLEN', KEYS[4]) < tonumber(ARGV[5]) then
  redis.call('RPUSH', KEYS[4], '1')
end
return 1
"""


async def enqueue_job(
    redis: ArqRedis,
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
    """`ArqRedis.enqueue_job`, same arguments and answer, in one round trip."""
    if _defer_until and _defer_by:
        raise RuntimeError("use either 'defer_until' or 'defer_by' or neither, not both")
    queue_name = _queue_name or redis.default_queue_name
    job_id = _job_id or uuid4().hex
    enqueue_time_ms = timestamp_ms()
    if _defer_until is not None:
        score = to_unix_ms(_defer_until)
    else:
        score = enqueue_time_ms + (to_ms(_defer_by) or 0)
    ttl_ms = to_ms(_expires) or score - enqueue_time_ms + redis.expires_extra_ms
    payload = serialize_job(
        function, args, kwargs, _job_try, enqueue_time_ms, serializer=redis.job_serializer
    )
    script_keys = [keys.job(job_id), keys.result(job_id), queue_name, keys.wake(queue_name)]
    created = await _batcher(redis).run(script_keys, [job_id, payload, score, ttl_ms, WAKE_TOKENS_MAX])
    if not created:
        return None
    return Job(job_id, redis=redis, _queue_name=queue_name, _deserializer=redis.job_deserializer)


class _Batcher:
    """Auto-pipelining: the enqueues made in one event-loop turn go to Redis as one pipeline.

    Under load many requests enqueue at once; one pipeline of N EVALSHAs costs one connection checkout,
    one write and one read instead of N. Alone, an enqueue still leaves on the next loop turn. Each
    EVALSHA stays atomic on its own; an error reaches every caller of that batch.
    """

    def __init__(self, redis: ArqRedis) -> None:
        self.redis = redis
        self.sha = hashlib.sha1(ENQUEUE_SCRIPT.encode()).hexdigest()  # noqa: S324  (Redis names scripts so)
        self.pending: list[tuple[list[str], list[Any], asyncio.Future[int]]] = []

    async def run(self, script_keys: list[str], args: list[Any]) -> int:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        if not self.pending:
            asyncio.get_running_loop().call_soon(self._flush)
        self.pending.append((script_keys, args, future))
        return await future

    def _flush(self) -> None:
        batch, self.pending = self.pending, []
        task = asyncio.ensure_future(self._send(batch))
        _in_flight.add(task)
        task.add_done_callback(_in_flight.discard)

    async def _send(self, batch: list[tuple[list[str], list[Any], asyncio.Future[int]]]) -> None:
        try:
            try:
                replies = await self._execute(batch)
            except NoScriptError:  # Redis restarted or its script cache was flushed: load it, once
                await self.redis.script_load(ENQUEUE_SCRIPT)
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
                future.set_result(int(reply))

    async def _execute(self, batch: list[tuple[list[str], list[Any], asyncio.Future[int]]]) -> list[Any]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for script_keys, args, _ in batch:
                pipe.evalsha(self.sha, len(script_keys), *script_keys, *args)
            replies: list[Any] = await pipe.execute()
        return replies


_batchers: weakref.WeakKeyDictionary[ArqRedis, _Batcher] = weakref.WeakKeyDictionary()
_in_flight: set[asyncio.Future[None]] = set()  # a task must be referenced until it is done


def _batcher(redis: ArqRedis) -> _Batcher:
    batcher = _batchers.get(redis)
    if batcher is None:
        batcher = _batchers[redis] = _Batcher(redis)
    return batcher
