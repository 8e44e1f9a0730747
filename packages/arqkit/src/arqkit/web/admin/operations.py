"""Operating the queue: depth, pause and resume, dead letters, replay, discard. Every route needs the
admin bearer token. A queue is named by its priority: `default`, `critical` or `bulk`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, status

from arqkit.admin import QueueOverview
from arqkit.dead_letters import CURSOR_PATTERN, DeadLetterPage
from arqkit.replay_edits import ReplayPreview
from arqkit.web.deps import AdminDep, QueueAdminDep
from arqkit.web.openapi import ADMIN, ADMIN_WRITE, INVALID, NOT_FOUND, REPLAY_REFUSED, WITH_BODY
from arqkit.web.schemas import JobId, ReplayAccepted, Replayed, ReplayEdit, ReplayWindow

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[AdminDep], responses=ADMIN)

QueueName = Annotated[str, Path(description="`default`, `critical` or `bulk` (anything else is a 404).")]


@router.get("/queues")
async def queues(admin: QueueAdminDep) -> list[QueueOverview]:
    return await admin.overview()


@router.post(
    "/queues/{name}/pause",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=NOT_FOUND | INVALID | ADMIN_WRITE,
)
async def pause(name: QueueName, admin: QueueAdminDep) -> None:
    """Its workers take no new job (running ones finish); enqueues still answer 202 `queued`."""
    await admin.pause(name)


@router.post(
    "/queues/{name}/resume",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=NOT_FOUND | INVALID | ADMIN_WRITE,
)
async def resume(name: QueueName, admin: QueueAdminDep) -> None:
    await admin.resume(name)


@router.get("/dead-letters", responses=INVALID)
async def list_dead_letters(
    admin: QueueAdminDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(pattern=CURSOR_PATTERN)] = None,
) -> DeadLetterPage:
    return await admin.dead_letters(limit, cursor)


@router.post("/dead-letters/replay", status_code=status.HTTP_202_ACCEPTED, responses=WITH_BODY | ADMIN_WRITE)
async def replay_window(body: ReplayWindow, admin: QueueAdminDep) -> Replayed:
    """At most `limit` letters per request, each replayed at most once however many requests race. While
    `remaining` is not 0, post again with the answer's `until_ms` (a retry after a timeout is safe)."""
    batch = await admin.replay_since(body.since_seconds, body.limit, body.until_ms)
    return Replayed(
        count=len(batch.replayed),
        job_ids=[replay.job.job_id for replay in batch.replayed],
        remaining=batch.remaining,
        until_ms=batch.until_ms,
        warnings=sorted({replay.warning for replay in batch.replayed if replay.warning}),
    )


@router.post(
    "/dead-letters/{job_id}/replay",
    status_code=status.HTTP_202_ACCEPTED,
    responses=NOT_FOUND | REPLAY_REFUSED | WITH_BODY | ADMIN_WRITE,
)
async def replay_one(
    job_id: JobId, admin: QueueAdminDep, request: Request, body: ReplayEdit | None = None
) -> ReplayAccepted:
    """At most one job per letter, however many requests race: each answers that job. `warning` says
    when no live worker serves the letter's queue (the job would wait until one starts).

    With `{"kwargs": {...}}`, the new job runs with those arguments, checked against the job's signature
    (a 422 names each wrong, unknown or missing one); `changes` is the diff, and the replay is recorded
    with `operator` and how the caller signed in (`GET /admin/jobs/{id}` shows it). A job declared
    `editable=False`, or a letter already replayed with other arguments, is a 409."""
    edit = body or ReplayEdit()
    via = getattr(request.state, "admin_via", None)
    replay = await admin.replay(job_id, edit.kwargs, operator=edit.operator, via=via)
    job = replay.job
    return ReplayAccepted(
        job_id=job.job_id,
        status=job.status,
        status_url=f"/jobs/{job.job_id}",
        replay_of=job_id,
        warning=replay.warning,
        changes=replay.changes,
    )


@router.post(
    "/dead-letters/{job_id}/replay/preview",
    responses=NOT_FOUND | REPLAY_REFUSED | WITH_BODY | ADMIN_WRITE,
)
async def preview_replay(
    job_id: JobId, admin: QueueAdminDep, body: ReplayEdit | None = None
) -> ReplayPreview:
    """What the same body would replay, nothing enqueued: the letter's arguments by name (`before`),
    the checked ones (`after`) and the fields that differ (`changes`). Without `kwargs`: `before` twice,
    the form an edit starts from."""
    return await admin.preview_replay(job_id, (body or ReplayEdit()).kwargs)


@router.delete(
    "/dead-letters/{job_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=NOT_FOUND | INVALID | ADMIN_WRITE,
)
async def discard(job_id: JobId, admin: QueueAdminDep) -> None:
    """Drop one dead letter for good; it is not replayed."""
    await admin.discard(job_id)
