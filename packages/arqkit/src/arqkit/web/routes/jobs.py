"""Where a job is and how it ended; wait for it to change (long poll), or watch it (server-sent events).

A job id is a capability (`arqkit/job_ids.py`): whoever holds one may read and abort that job. Jobs the
service runs for itself (cron ticks, whose ids arq derives from the schedule) are not served here: 404,
as for an unknown id; operators see and abort them under `/admin/jobs/{id}`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from arqkit import JobQueue, job_ids, watch
from arqkit.errors import JobNotFound
from arqkit.flow_status import FlowStatus
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
async def get_job(
    job_id: JobId, queue: QueueDep, settings: SettingsDep, watchers: JobStreamsDep, wait: WaitSeconds = 0
) -> FlowStatus | JobStatus:
    """With `wait=N`: answers as soon as the status differs from what it was when asked, else after N s.
    At most `JOB_WAIT_MAX_POLLS` long polls per API process at once (then 503), counted before Redis."""
    refuse_internal(queue, job_id)
    if not wait:
        return await public_status(queue, job_id)
    with watchers.long_polls.enter():
        await public_status(queue, job_id)
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
    refuse_internal(queue, job_id)
    return await streams.respond(queue, job_id, last_event_id)


@router.delete(
    "/{job_id}",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[RateLimit("abort")],
    responses=JOB_ABORT,
)
async def abort_job(job_id: JobId, queue: QueueDep) -> AbortRequested:
    """202 while queued or running (a running job is cancelled cooperatively), 409 once finished."""
    await public_status(queue, job_id)  # 404 for an unknown or internal job
    await queue.abort(job_id)
    return AbortRequested(job_id=job_id)


def refuse_internal(queue: JobQueue, job_id: str) -> None:
    """404 by the id's shape alone (a cron tick's `name:<ms>`), before any Redis work."""
    if job_ids.is_internal(queue.registry, job_id):
        raise JobNotFound(job_id)


async def public_status(queue: JobQueue, job_id: str) -> JobStatus:
    """The job's status, or `JobNotFound` (404) if it is unknown or one the service runs for itself."""
    refuse_internal(queue, job_id)
    found = await queue.status(job_id)
    if job_ids.is_internal(queue.registry, job_id, found.function):
        raise JobNotFound(job_id)
    return found
