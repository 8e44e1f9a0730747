"""arq's payloads, read and written through arq's own functions: a job definition and a job's result.

Only the machinery's own modules call these; they get arq's `JobDef` and `JobResult` back (plain
attribute bags) or `None` for data that is not ours to read (a pickle, garbage).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any

from arq.jobs import JobDef, JobResult, SerializationError, deserialize_job, deserialize_result
from arq.jobs import serialize_job as _serialize_job
from arq.jobs import serialize_result as _serialize_result

from arqkit.serializer import META_FIELD, deserialize, serialize

__all__ = ["JobDef", "JobResult", "aborted_result", "read_job", "read_result", "serialize_job"]


def read_job(raw: bytes) -> JobDef | None:
    try:
        return deserialize_job(raw, deserializer=deserialize)
    except SerializationError:
        return None


def read_result(raw: bytes) -> JobResult | None:
    try:
        return deserialize_result(raw, deserializer=deserialize)
    except SerializationError:
        return None


def serialize_job(
    function: str,
    args: Sequence[Any],
    kwargs: dict[str, Any],
    job_try: int | None,
    enqueue_time_ms: int,
    meta: Mapping[str, Any] | None = None,
) -> bytes:
    """The job key's value, exactly as arq's `enqueue_job` writes it (in JSON); `meta` beside arq's fields,
    as `internals/enqueue.py` stores it."""

    def with_meta(data: dict[str, Any]) -> bytes:
        return serialize({**data, META_FIELD: dict(meta)} if meta else data)

    return _serialize_job(function, tuple(args), kwargs, job_try, enqueue_time_ms, serializer=with_meta)


def aborted_result(job_id: str, job: JobDef, queue_name: str) -> bytes:
    """An arq result that says "cancelled before it started", so the status reads `aborted`.

    `serialize_result` takes twelve positional arguments; their order is pinned by
    `tests/internals/test_layout.py`.
    """
    now_ms = int(time.time() * 1000)
    data = _serialize_result(
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
    assert data is not None  # None only when the serializer fails, and ours cannot on these values
    return data
