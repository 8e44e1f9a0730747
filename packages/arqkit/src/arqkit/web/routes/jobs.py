"""Where a job is and how it ended; wait for it to change (long poll), or watch it (server-sent events)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from arqkit import watch
from arqkit.status import JobStatus
from arqkit.web.deps import QueueDep, SettingsDep
from arqkit.web.events import OPENAPI, JobEventStreams, LastEventId, get_job_streams
from arqkit.web.openapi import JOB_ABORT, JOB_STATUS
from arqkit.web.rate_limit import RateLimit
from arqkit.web.schemas import AbortRequested, JobId

router = APIRouter(prefix="/jobs", tags=["jobs"])

WaitSeconds = Annotated[float, Query(ge=0, le=30, description="long poll: answer on a change or after this")]
JobStreamsDep = Annotated[JobEventStreams, Depends(get_job_streams)]


@router.get("/{job_id}", dependencies=[RateLimit("status")], responses=JOB_STATUS)
async def get_job(job_id: JobId, queue: QueueDep, settings: SettingsDep, wait: WaitSeconds = 0) -> JobStatus:
    """With `wait=N`: answers as soon as the status differs from what it was when asked, else after N s."""
    if not wait:
        return await queue.status(job_id)
    change = await watch.next_change(
        queue, job_id, wait_seconds=wait, poll_seconds=settings.job_watch_poll_seconds
    )
    return change.status


@router.get("/{job_id}/events", dependencies=[RateLimit("status")], responses=OPENAPI)
async def job_events(
    job_id: JobId, queue: QueueDep, streams: JobStreamsDep, last_event_id: LastEventId = None
) -> Response:
    """Server-sent events: one per change of status or progress, the same JSON as `GET /jobs/{id}`,
    closing after a final status. Reconnect with `Last-Event-ID` to get only what is newer."""
    return await streams.respond(queue, job_id, last_event_id)


@router.delete(
    "/{job_id}",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[RateLimit("abort")],
    responses=JOB_ABORT,
)
async def abort_job(job_id: JobId, queue: QueueDep) -> AbortRequested:
    """202 while queued or running (a running job is cancelled cooperatively), 409 once finished."""
    await queue.abort(job_id)
    return AbortRequested(job_id=job_id)
