"""A job's status, read in one round trip from arq's keys and ours.

arq alone reports `not_found` for a job no worker has seen and has no `retrying`, `failed` or
`aborted`; this reads the same keys and answers what a user asks: where is my job, and how did it end.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import structlog
from pydantic import BaseModel, Field
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from arqkit import keys, records
from arqkit.internals.layout import read_job, read_result
from arqkit.serializer import error_of

log = structlog.get_logger("jobs.status")
Status = Literal["queued", "deferred", "in_progress", "retrying", "complete", "failed", "aborted"]


class JobError(BaseModel):
    type: str
    message: str


class JobStatus(BaseModel):
    job_id: str
    function: str
    queue: str
    status: Status
    try_: int = Field(serialization_alias="try")
    max_tries: int | None
    enqueued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    progress: float | None
    result: Any = None
    error: JobError | None = None


async def read_status(redis: Redis, job_id: str, queue_names: str | Sequence[str]) -> JobStatus | None:
    """None when the job is unknown (never enqueued, or its result has expired). A job waiting or running
    is found in whichever of `queue_names` holds it (one per priority, see `priorities.py`)."""
    names = [queue_names] if isinstance(queue_names, str) else list(queue_names)
    async with redis.pipeline(transaction=False) as pipe:
        queue_reads(pipe, job_id, names)
        return status_from(job_id, names, await pipe.execute())


def queue_reads(pipe: Pipeline, job_id: str, names: Sequence[str]) -> None:
    """The reads of one job's status, queued on `pipe` (`status_from` reads their replies): so many jobs'
    statuses (a flow's steps, `flow_status.py`) are one round trip."""
    pipe.get(keys.result(job_id))
    pipe.get(keys.job(job_id))
    pipe.exists(keys.in_progress(job_id))
    pipe.get(keys.retry(job_id))
    pipe.hgetall(keys.job_meta(job_id))
    for name in names:
        pipe.zscore(name, job_id)


def status_from(job_id: str, names: Sequence[str], replies: Sequence[Any]) -> JobStatus | None:
    """The status `queue_reads`' replies (its first `5 + len(names)`) tell."""
    raw_result, raw_job, in_progress, tries, meta, *scores = replies[: 5 + len(names)]
    queue_name, score = next(
        ((name, found) for name, found in zip(names, scores, strict=True) if found is not None),
        (names[0], None),
    )

    meta_key = keys.job_meta(job_id)
    started_at = _from_epoch(records.number_or_none(meta.get(b"started_at"), meta_key))
    progress = records.number_or_none(meta.get(b"progress"), meta_key)
    progress = None if progress is None else min(1.0, max(0.0, progress))
    if raw_result is not None:
        return _finished(job_id, raw_result, progress)
    if raw_job is None:
        return None
    job = read_job(raw_job)
    if job is None:
        return _unreadable(job_id, "queued")  # the worker will fail it the same way
    tries_so_far = int(records.number_or_none(tries, keys.retry(job_id)) or 0)
    status: Status
    if in_progress:
        status = "in_progress"
    elif tries_so_far > 0:
        status = "retrying"
    elif score is not None and score > time.time() * 1000:
        status = "deferred"
    else:
        status = "queued"
    return JobStatus(
        job_id=job_id,
        function=job.function,
        queue=queue_name,
        status=status,
        try_=tries_so_far,
        max_tries=None,
        enqueued_at=job.enqueue_time,
        started_at=started_at if status == "in_progress" else None,
        finished_at=None,
        progress=progress if status == "in_progress" else None,
    )


def _finished(job_id: str, raw_result: bytes, progress: float | None) -> JobStatus:
    result = read_result(raw_result)
    if result is None:
        return _unreadable(job_id, "failed")
    status: Status = "complete"
    error = None
    if not result.success:
        error = error_of(result.result) or {"type": "JobExecutionFailed", "message": str(result.result)}
        status = "aborted" if error["type"] == "CancelledError" else "failed"
    return JobStatus(
        job_id=job_id,
        function=result.function,
        queue=result.queue_name,
        status=status,
        try_=result.job_try,
        max_tries=None,
        enqueued_at=result.enqueue_time,
        started_at=result.start_time,
        finished_at=result.finish_time,
        progress=1.0 if result.success else progress,
        result=result.result if result.success else None,
        error=JobError(**error) if error else None,
    )


def _unreadable(job_id: str, status: Status) -> JobStatus:
    """Data that is not a payload we wrote (a pickle, a field of the wrong type) is reported, never
    deserialized further; the worker fails such a job the same way (a dead letter)."""
    log.warning("unreadable job data", job_id=job_id)
    return JobStatus(
        job_id=job_id,
        function="<unreadable>",
        queue="",
        status=status,
        try_=0,
        max_tries=None,
        enqueued_at=None,
        started_at=None,
        finished_at=None,
        progress=None,
        error=JobError(type="DeserializationError", message="the stored job data is unreadable"),
    )


def _from_epoch(seconds: float | None) -> datetime | None:
    try:
        return datetime.fromtimestamp(seconds, UTC) if seconds is not None else None
    except (OverflowError, OSError, ValueError):  # beyond what a datetime holds
        return None
