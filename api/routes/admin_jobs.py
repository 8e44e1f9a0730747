"""Seeing what the queue does: live workers, recent jobs by status, one job in full (with tracebacks).

Admin only, like the rest of `/admin`: a traceback is shown here and never on `GET /jobs/{job_id}`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import AdminDep, QueueDep
from api.schemas import JobId
from jobs import dead_letters, monitor
from jobs.client import JobNotFound
from jobs.monitor import DeadLetterWindow, FinishedStatus, RecentPage, WorkerInfo
from jobs.status import JobStatus

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[AdminDep])

Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(pattern=r"^\d{1,16}$")]


class JobDetail(BaseModel):
    job_id: str
    status: JobStatus | None  # None once its result has expired (its dead letter may remain)
    failed_tries: list[dict[str, object]]  # each failed try: type, message, traceback, try, at_ms
    dead_letter: dead_letters.DeadLetter | None


@router.get("/workers")
async def workers(queue: QueueDep) -> list[WorkerInfo]:
    """Workers alive now (a fresh heartbeat): id, host, pid, queue, jobs running, last seen."""
    return await monitor.workers(queue.redis, queue.settings)


@router.get("/jobs")
async def recent_jobs(
    queue: QueueDep, status: FinishedStatus = "failed", limit: Limit = 50, cursor: Cursor = None
) -> RecentPage:
    """Tries that finished with `status`, newest first; page on with `cursor=<next_cursor>`."""
    return await monitor.recent(queue.redis, status, limit, cursor)


@router.get("/jobs/{job_id}")
async def job_detail(job_id: JobId, queue: QueueDep) -> JobDetail:
    try:
        status = await queue.status(job_id)
    except JobNotFound:
        status = None
    failed_tries = await monitor.failed_tries(queue.redis, job_id)
    letter = await dead_letters.get(queue.redis, job_id)
    if status is None and letter is None and not failed_tries:
        raise JobNotFound(job_id)
    return JobDetail(job_id=job_id, status=status, failed_tries=failed_tries, dead_letter=letter)


@router.get("/dead-letters/window")
async def dead_letter_window(
    queue: QueueDep,
    since_seconds: Annotated[int, Query(gt=0, le=90 * 86_400)],
    limit: Limit = 50,
) -> DeadLetterWindow:
    """What a replay of that window would replay: the count, and the newest `limit` letters."""
    return await monitor.dead_letters_since(queue.redis, since_seconds, limit)
