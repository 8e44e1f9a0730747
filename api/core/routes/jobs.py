"""Where a job is and how it ended."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.core.deps import QueueDep
from api.core.openapi import JOB_ABORT, JOB_STATUS
from api.core.rate_limit import RateLimit
from api.core.schemas import AbortRequested, JobId
from jobs.core.status import JobStatus

router = APIRouter(prefix="/jobs", tags=["jobs"])


@router.get("/{job_id}", dependencies=[RateLimit("status")], responses=JOB_STATUS)
async def get_job(job_id: JobId, queue: QueueDep) -> JobStatus:
    return await queue.status(job_id)


@router.delete(
    "/{job_id}",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[RateLimit("producers")],
    responses=JOB_ABORT,
)
async def abort_job(job_id: JobId, queue: QueueDep) -> AbortRequested:
    """202 while queued or running (a running job is cancelled cooperatively), 409 once finished."""
    await queue.abort(job_id)
    return AbortRequested(job_id=job_id)
