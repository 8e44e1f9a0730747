"""Every final failure into the dead-letter set, including those that happen before any hook runs.

arq has no "job finally failed" hook, and several failures never reach our job wrapper or hooks: the
job expired before it ran, its function no longer exists, its payload is unreadable, a crash used up
its last try ("max retries exceeded"), or it timed out. But every result arq stores passes through the
worker's serializer. So each worker serializes with its own `ResultTap.serialize`, which reads arq's
result fields (`s` success, `r` result, `f`, `a`, `k`, `t`, `et`, `ft`, `q`, `id`), notes each failed
result (an abort is not a failure), and a worker task flushes those notes to the dead-letter set.
`tests/core/internals/test_result_tap.py` pins those fields against arq's own `serialize_result`.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis

from jobs.core import dead_letters
from jobs.core.serializer import META_KWARG, error_of, exception_record, serialize


class ResultTap:
    """One per worker: the failures its serializer saw, until they are written."""

    def __init__(self) -> None:
        self._pending: list[dead_letters.DeadLetter] = []
        self.on_recorded: list[Callable[[dead_letters.DeadLetter], None]] = []  # e.g. a metrics counter

    def serialize(self, data: dict[str, Any]) -> bytes:
        """arq's serializer for jobs and results; notes failed results on the way."""
        raw = serialize(data)
        if data.get("s") is False and "id" in data and not isinstance(data.get("r"), asyncio.CancelledError):
            self._pending.append(_letter(data))
        return raw

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def flush(self, redis: Redis, max_kept: int) -> None:
        """Record what was noted; on a Redis error the notes are kept for the next flush."""
        while self._pending:
            await dead_letters.record(redis, self._pending[0], max_kept)
            letter = self._pending.pop(0)
            for listener in self.on_recorded:
                listener(letter)


def _letter(data: dict[str, Any]) -> dead_letters.DeadLetter:
    result = data.get("r")
    record = exception_record(result) if isinstance(result, BaseException) else result
    error = error_of(record) or {"type": "JobExecutionFailed", "message": str(result)}
    kwargs = dict(data.get("k") or {})
    meta = kwargs.pop(META_KWARG, None) or {}
    tb = None
    if isinstance(result, BaseException) and result.__traceback__ is not None:
        tb = "".join(traceback.format_exception(result))
    return dead_letters.DeadLetter(
        job_id=data["id"],
        function=data.get("f", "<unknown>"),
        queue=data.get("q", ""),
        args=list(data.get("a") or ()),
        keyword_args=kwargs,
        error=error,
        tries=data.get("t") or 0,
        enqueued_at_ms=data.get("et"),
        failed_at_ms=data.get("ft") or int(time.time() * 1000),
        request_id=meta.get("request_id") if isinstance(meta, dict) else None,
        traceback=tb,
    )
