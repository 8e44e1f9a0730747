"""Operating the queue: depth, dead letters, replay. Every route needs the admin bearer token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from api.deps import AdminDep, QueueDep
from api.schemas import JobId, ReplayAccepted, Replayed, ReplayWindow
from jobs.client import QueueOverview
from jobs.dead_letters import CURSOR_PATTERN, DeadLetterPage

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[AdminDep])


@router.get("/queues")
async def queues(queue: QueueDep) -> list[QueueOverview]:
    return await queue.overview()


@router.get("/dead-letters")
async def list_dead_letters(
    queue: QueueDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(pattern=CURSOR_PATTERN)] = None,
) -> DeadLetterPage:
    return await queue.dead_letters(limit, cursor)


@router.post("/dead-letters/replay", status_code=status.HTTP_202_ACCEPTED)
async def replay_window(body: ReplayWindow, queue: QueueDep) -> Replayed:
    replayed = await queue.replay_since(body.since_seconds)
    return Replayed(count=len(replayed), job_ids=[job.job_id for job in replayed])


@router.post("/dead-letters/{job_id}/replay", status_code=status.HTTP_202_ACCEPTED)
async def replay_one(job_id: JobId, queue: QueueDep) -> ReplayAccepted:
    job = await queue.replay(job_id)
    return ReplayAccepted(
        job_id=job.job_id, status=job.status, status_url=f"/jobs/{job.job_id}", replay_of=job_id
    )
