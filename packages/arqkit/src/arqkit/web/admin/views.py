"""Seeing what the queue does: live workers, recent jobs by status, one job in full (with tracebacks).

Admin only, like the rest of `/admin`: a traceback is shown here and never on `GET /jobs/{job_id}`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from arqkit.admin import JobDetail
from arqkit.failure_groups import FailureGroupPage
from arqkit.overview import DeadLetterWindow, FinishedStatus, RecentPage, WorkerInfo
from arqkit.throughput import Sample
from arqkit.web.deps import AdminDep, QueueAdminDep
from arqkit.web.openapi import ADMIN, ADMIN_WRITE, CONFLICT, INVALID, NOT_FOUND
from arqkit.web.schemas import AbortRequested, JobId

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[AdminDep], responses=ADMIN)

Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(pattern=r"^\d{1,16}$")]


@router.get("/workers")
async def workers(admin: QueueAdminDep) -> list[WorkerInfo]:
    """Workers alive now (a fresh heartbeat): id, host, pid, queue, jobs running, last seen."""
    return await admin.workers()


@router.get("/jobs", responses=INVALID)
async def recent_jobs(
    admin: QueueAdminDep, status: FinishedStatus = "failed", limit: Limit = 50, cursor: Cursor = None
) -> RecentPage:
    """Tries that finished with `status`, newest first; page on with `cursor=<next_cursor>`."""
    return await admin.recent(status, limit, cursor)


@router.get("/jobs/{job_id}", responses=NOT_FOUND | INVALID)
async def job_detail(job_id: JobId, admin: QueueAdminDep) -> JobDetail:
    return await admin.job_detail(job_id)


@router.delete(
    "/jobs/{job_id}",
    status_code=status.HTTP_202_ACCEPTED,
    responses=NOT_FOUND | CONFLICT | INVALID | ADMIN_WRITE,
)
async def abort_job(job_id: JobId, admin: QueueAdminDep) -> AbortRequested:
    """Abort any job, the service's own (a cron tick) included: `DELETE /jobs/{id}` refuses those."""
    await admin.abort(job_id)
    return AbortRequested(job_id=job_id)


@router.get("/dead-letters/window", responses=INVALID)
async def dead_letter_window(
    admin: QueueAdminDep,
    since_seconds: Annotated[int, Query(gt=0, le=90 * 86_400)],
    limit: Limit = 50,
) -> DeadLetterWindow:
    """What a replay of that window would replay: the count, and the newest `limit` letters."""
    return await admin.dead_letter_window(since_seconds, limit)


@router.get("/failures", responses=INVALID)
async def failure_groups(
    admin: QueueAdminDep,
    limit: Limit = 20,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    job_id: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
) -> FailureGroupPage:
    """Final failures grouped by function and error type (count, first and last seen, one example),
    the most recently seen first; `job_id` finds the group(s) of the jobs whose id contains it."""
    return await admin.failure_groups(limit, offset, job_id)


@router.get("/throughput")
async def throughput(admin: QueueAdminDep) -> list[Sample]:
    """The last `DASHBOARD_HISTORY_SECONDS` of queue depth and job counters, one point per interval."""
    return await admin.throughput()
