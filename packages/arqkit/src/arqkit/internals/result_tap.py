"""Every final failure into the dead-letter set, including those that happen before any hook runs.

arq has no "job finally failed" hook, and several failures never reach our job wrapper or hooks: the
job expired before it ran, its function no longer exists, its payload is unreadable, a crash used up
its last try ("max retries exceeded"), or it timed out. But every result arq stores passes through the
worker's serializer. So each worker serializes with its own `ResultTap.serialize`, which reads arq's
result fields (`s` success, `r` result, `f`, `a`, `k`, `t`, `et`, `ft`, `q`, `id`) and notes each
failed result (an abort is not a failure).

A noted letter is written in the same MULTI/EXEC as the result it belongs to: arq stores a result
with `SET arq:result:<id>` inside a transaction (`finish_job`, `finish_failed_job`), and the worker's
pool builds its pipelines here (`TappedPipeline`), which adds the letter to that transaction. A worker
killed at any moment leaves both or neither: never a failed result whose dead letter died in memory.
(The serializer cannot await, and `on_job_end` does not run on arq's early failures, so neither can
write the letter first.) A letter whose result is not stored (`keep_result=0`) or whose transaction
failed stays noted and is written by the worker's flush task (`hooks.py`), as is the trim to
`DEAD_LETTER_MAX`. Either way `jobs_dead_lettered_total` is counted in the transaction that writes the
letter, and the flush takes a letter out of the notes before it writes it: a finish that stores the
job's result meanwhile cannot write (and count) it a second time.
`tests/internals/test_result_tap.py` pins arq's result fields and writes.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from arqkit import dead_letters, flows, keys, metrics
from arqkit.internals.batch_claim import ClaimAwarePipeline
from arqkit.serializer import META_KWARG, error_of, exception_record, serialize


class ResultTap:
    """One per worker: the failures its serializer saw, until they are written. `queue` is the worker's
    queue as the metrics name it (`default`, `critical`, `bulk`)."""

    def __init__(self, queue: str = "default") -> None:
        self._pending: dict[str, dead_letters.DeadLetter] = {}  # by job id, oldest first
        self._untrimmed = False
        self.queue = queue
        self.flow_ends: dict[str, tuple[Any, ...]] = {}  # by job id: the EVAL advancing its flow (flows.py)

    def serialize(self, data: dict[str, Any]) -> bytes:
        """arq's serializer for jobs and results; notes failed results on the way."""
        raw = serialize(data)
        if data.get("s") is False and "id" in data and not isinstance(data.get("r"), asyncio.CancelledError):
            letter = _letter(data)
            self._pending[letter.job_id] = letter
        if "s" in data and "id" in data:
            advance = flows.finish_command(data)
            if advance is not None:
                self.flow_ends[data["id"]] = advance
        return raw

    def pipeline(self, *args: Any, **kwargs: Any) -> TappedPipeline:
        """The worker pool's pipelines (`ResilientArqRedis.pipeline_factory`)."""
        return TappedPipeline(*args, tap=self, **kwargs)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def take(self, job_id: str) -> dead_letters.DeadLetter | None:
        return self._pending.pop(job_id, None)

    def put_back(self, letters: list[dead_letters.DeadLetter]) -> None:
        if letters:  # every pipeline's reset puts back what it queued: almost always nothing
            self._pending = {**{letter.job_id: letter for letter in letters}, **self._pending}

    def write_to(self, pipe: Pipeline, letter: dead_letters.DeadLetter) -> None:
        """Queue on `pipe` the letter's writes and its count in `jobs_dead_lettered_total`."""
        dead_letters.add_to(pipe, letter)
        metrics.count_on(pipe, metrics.JOBS_DEAD_LETTERED, letter.function, self.queue)

    def recorded(self, letter: dead_letters.DeadLetter) -> None:
        self._untrimmed = True

    async def flush(self, redis: Redis, max_kept: int) -> None:
        """Record what is still noted, and trim; on a Redis error the notes are kept for the next flush."""
        while self._pending:
            letter = self._pending.pop(next(iter(self._pending)))  # out of the notes before the await
            try:
                async with redis.pipeline(transaction=True) as pipe:
                    self.write_to(pipe, letter)
                    await pipe.execute()
            except BaseException:
                self.put_back([letter])
                raise
            self.recorded(letter)
        if self._untrimmed:
            await dead_letters.trim(redis, max_kept)
            self._untrimmed = False


class TappedPipeline(ClaimAwarePipeline):
    """A pipeline that writes a noted dead letter in the transaction that stores its job's result."""

    def __init__(self, *args: Any, tap: ResultTap, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tap = tap
        self._letters: list[dead_letters.DeadLetter] = []

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        queued = super().execute_command(*args, **kwargs)
        tap = self._tap
        if not (tap.pending or tap.flow_ends) or not self.is_transaction:
            return queued
        if len(args) > 1 and str(args[0]).upper() == "SET":
            job_id = keys.job_id_of_result(args[1])
            advance = tap.flow_ends.pop(job_id, None) if job_id else None
            if advance is not None:  # the step's flow advances in the MULTI storing its result
                super().execute_command(*advance)
            letter = self._tap.take(job_id) if job_id else None
            if letter is not None:
                self._tap.write_to(self, letter)
                self._letters.append(letter)
        return queued

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        letters, self._letters = self._letters, []
        try:
            replies = await super().execute(raise_on_error)
        except BaseException:
            self._tap.put_back(letters)  # the flush task writes them instead
            raise
        if self.finish_dropped:
            return replies  # a late finish: the run that owns the job now stores its own result
        for letter in letters:
            self._tap.recorded(letter)
        return replies

    async def reset(self) -> None:
        self._tap.put_back(self._letters)  # queued, never executed
        self._letters = []
        await super().reset()


def _letter(data: dict[str, Any]) -> dead_letters.DeadLetter:
    result = data.get("r")
    record = exception_record(result) if isinstance(result, BaseException) else result
    error = error_of(record) or {"type": "JobExecutionFailed", "message": str(result)}
    if isinstance(result, BaseException) and result.__cause__ is not None:
        error["message"] = f"{error['message']}: {result.__cause__}"  # e.g. which field was malformed
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
