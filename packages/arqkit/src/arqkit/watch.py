"""Watching one job change: the machinery behind `GET /jobs/{id}/events` and `GET /jobs/{id}?wait=N`.

arq has no change feed for a job, so this polls `JobQueue.status` (one Redis round trip) every
`JOB_WATCH_POLL_SECONDS` and reports a change whenever the status's JSON differs from the last one
seen. Each version of a status is named by its fingerprint (a short hash of that JSON): a client that
reconnects with the fingerprint it has (`Last-Event-ID`) gets nothing it already has, and any API
process can answer it, since no per-connection state is kept. Polling costs one small pipeline per
watcher per interval; keyspace notifications would save it but need `notify-keyspace-events` set on
the server, which managed Redis services often refuse.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from arqkit.client import JobQueue
from arqkit.errors import JobNotFound
from arqkit.status import JobStatus

FINAL_STATUSES = frozenset({"complete", "failed", "aborted"})


@dataclass(frozen=True)
class Change:
    """One version of a job's status: `body` is the JSON `GET /jobs/{id}` answers, `id` its fingerprint."""

    id: str
    status: JobStatus
    body: str

    @property
    def final(self) -> bool:
        return self.status.status in FINAL_STATUSES


def change_of(status: JobStatus) -> Change:
    body = status.model_dump_json(by_alias=True)
    return Change(id=hashlib.sha256(body.encode()).hexdigest()[:16], status=status, body=body)


async def current(queue: JobQueue, job_id: str) -> Change:
    """The job's status now; `JobNotFound` for an unknown id (the API's 404)."""
    return change_of(await queue.status(job_id))


async def changes(
    queue: JobQueue, job_id: str, *, seen: str | None, poll_seconds: float, max_seconds: float
) -> AsyncIterator[Change]:
    """Each new version of the job's status, starting with the current one unless its id is `seen`.

    Ends after a final status, when the job expires, or after `max_seconds` (the caller's bound).
    """
    ends = time.monotonic() + max_seconds
    while True:
        try:
            change = await current(queue, job_id)
        except JobNotFound:
            return  # its result expired while watched
        if change.id != seen:
            seen = change.id
            yield change
        if change.final or time.monotonic() >= ends:
            return
        await asyncio.sleep(min(poll_seconds, max(0.0, ends - time.monotonic())))


async def next_change(queue: JobQueue, job_id: str, *, wait_seconds: float, poll_seconds: float) -> Change:
    """The long poll: the job's status as soon as it differs from now, or as it is after `wait_seconds`.

    A final status answers at once: it will not change again.
    """
    first = await current(queue, job_id)
    if first.final or wait_seconds <= 0:
        return first
    latest = first
    async for change in changes(
        queue, job_id, seen=first.id, poll_seconds=poll_seconds, max_seconds=wait_seconds
    ):
        return change
    return latest
