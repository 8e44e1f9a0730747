"""The operator's interface to the queue: depth, workers, recent jobs, one job in full, dead letters
(replay, discard), and a queue's pause, resume and purge. The admin API, the dashboard, `/metrics` and
the CLI (`python -m jobs`) all go through it; none of them touches Redis itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import BaseModel, SerializeAsAny

from arqkit import (
    dead_letters,
    failure_groups,
    flows,
    history,
    job_ids,
    metrics,
    overview,
    priorities,
    queue_control,
    replay_edits,
    throughput,
)
from arqkit.client import Enqueued, JobQueue, Readiness
from arqkit.dead_letters import DeadLetter, DeadLetterPage
from arqkit.errors import (
    DeadLetterNotFound,
    JobNotFound,
    QueueUnavailable,
    ReplayConflict,
    unavailable_on_redis_error,
)
from arqkit.failure_groups import FailureGroupPage
from arqkit.overview import DeadLetterWindow, FinishedStatus, QueueDepth, RecentPage, Snapshot, WorkerInfo
from arqkit.replay_edits import ArgumentChange, ReplayPreview, ReplayRecord, Via
from arqkit.status import JobStatus

log = structlog.get_logger("jobs.admin")


class QueueOverview(BaseModel):
    name: priorities.Priority  # the name operators use everywhere: `python -m jobs pause bulk`
    priority: priorities.Priority  # the same (kept for clients that read it)
    key: str  # its Redis key (arq's queue name)
    queued: int
    deferred: int
    in_progress: int
    dead: int  # dead letters of this queue
    workers_alive: int
    paused: bool
    unserved: bool  # jobs wait and no live worker serves the queue


class JobDetail(BaseModel):
    job_id: str
    status: SerializeAsAny[JobStatus] | None  # None once expired; a flow's is a FlowStatus (its steps)
    failed_tries: list[dict[str, Any]]  # each failed try: type, message, traceback, try, at_ms
    dead_letter: DeadLetter | None
    replay: ReplayRecord | None = None  # the replay that followed it, as a dead letter (who, when, edits)
    replayed_from: ReplayRecord | None = None  # the replay that made it, if one did


@dataclass(frozen=True)
class Replay:
    job: Enqueued
    replay_of: str
    warning: str | None  # e.g. no live worker serves the letter's queue
    changes: list[ArgumentChange] | None = None  # an edited replay's diff (None: the letter's own arguments)

    @property
    def job_id(self) -> str:  # as an `Enqueued`, which `replay` returned before
        return self.job.job_id

    @property
    def status(self) -> str:
        return self.job.status


@dataclass(frozen=True)
class ReplayBatch:
    replayed: list[Replay]
    remaining: int  # letters of the window still there (replay again with the same until_ms)
    until_ms: int


class MetricsSnapshot(BaseModel):
    """What `/metrics` renders: the shared counters, each queue's depth, the dead letters."""

    sums: dict[tuple[str, ...], float]
    depths: list[QueueDepth]
    dead: int


class QueueAdmin:
    """On the same pool as the `JobQueue` it is given (a replay is an enqueue)."""

    def __init__(self, queue: JobQueue) -> None:
        self.queue = queue
        self.redis = queue.redis
        self.settings = queue.settings

    async def overview(self) -> list[QueueOverview]:
        """Per queue: waiting, deferred, running, dead letters, live workers, paused."""
        names = priorities.all_queue_names(self.settings)
        with unavailable_on_redis_error():
            depths = await overview.queue_depths(self.redis, self.settings)
            dead = await dead_letters.count_by_queue(self.redis, names)
        return [
            QueueOverview(
                name=d.name,
                priority=d.priority,
                key=d.key,
                queued=d.queued,
                deferred=d.deferred,
                in_progress=d.in_progress,
                dead=dead.get(d.key, 0),
                workers_alive=d.workers_alive,
                paused=d.paused,
                unserved=d.unserved,
            )
            for d in depths
        ]

    async def workers(self) -> list[WorkerInfo]:
        with unavailable_on_redis_error():
            return await overview.workers(self.redis, self.settings)

    async def recent(self, status: FinishedStatus, limit: int, cursor: str | None) -> RecentPage:
        with unavailable_on_redis_error():
            return await overview.recent(self.redis, status, limit, cursor)

    async def job_detail(self, job_id: str) -> JobDetail:
        """The public status plus every failed try's traceback and the dead letter, if any."""
        try:
            status: JobStatus | None = await self.queue.status(job_id)
        except JobNotFound:
            status = None
        with unavailable_on_redis_error():
            failed_tries = await overview.failed_tries(self.redis, job_id)
            letter = await dead_letters.get(self.redis, job_id)
            replay = await history.replay_of(self.redis, job_id)
            origin = await history.origin_of(self.redis, job_id)
        if status is None and letter is None and not failed_tries and replay is None and origin is None:
            raise JobNotFound(job_id)
        return JobDetail(
            job_id=job_id,
            status=status,
            failed_tries=failed_tries,
            dead_letter=letter,
            replay=replay,
            replayed_from=origin,
        )

    async def abort(self, job_id: str) -> None:
        """Any job, the service's own included (the public `DELETE /jobs/{id}` refuses cron ticks)."""
        await self.queue.abort(job_id)
        log.warning("job aborted by an operator", job_id=job_id)

    async def dead_letters(self, limit: int, cursor: str | None) -> DeadLetterPage:
        with unavailable_on_redis_error():
            return await dead_letters.page(self.redis, limit, cursor)

    async def dead_letter_window(self, since_seconds: int, limit: int) -> DeadLetterWindow:
        with unavailable_on_redis_error():
            return await overview.dead_letters_since(self.redis, since_seconds, limit)

    async def replay(
        self,
        job_id: str,
        kwargs: Mapping[str, Any] | None = None,
        *,
        operator: str | None = None,
        via: Via | None = None,
    ) -> Replay:
        """Enqueue a dead letter again, on its own queue, as a new job whose meta `replay_of` links back;
        with `kwargs` (every argument by name, as JSON), with those instead, checked against the job's
        signature first (`replay_edits.preview`). Recorded in both jobs' history: who, when, the edit.

        At most once however many requests race: the new job's id is derived from the letter (its id and
        failure time, keyed with JOB_ID_SECRET), and an enqueue of an id that exists writes nothing. The
        first replay's record (SET NX) decides the arguments: a racing one with others is `ReplayConflict`,
        one with the same answers the same job. The letter leaves the set only once that job is written (a
        crash in between leaves it, and its replay finds the same job).
        """
        with unavailable_on_redis_error():
            letter = await self._letter(job_id)
            edit = None if kwargs is None else replay_edits.preview(self.queue.registry, letter, kwargs)
            args, keywords = (letter.args, letter.keyword_args) if edit is None else ([], edit.after)
            queue_name = letter.queue or self.settings.queue_name
            new_id = f"replay-{job_ids.derive(self.settings, 'replay', job_id, str(letter.failed_at_ms))}"
            digest = replay_edits.digest(letter.function, args, keywords)
            record = replay_edits.record(letter, new_id, edit, operator, via, digest)
            keep = self.settings.replay_audit_seconds
            first = await history.claim_replay(self.redis, record, keep) or record
            if first.digest != digest:
                raise ReplayConflict(job_id, new_id, replay_edits.who(first))
            flow = await flows.replay_link(self.redis, job_id)  # a flow's step: the replay resumes the flow
            meta = {"replay_of": job_id, **replay_edits.edit_meta(first), **flows.replay_meta(flow)}
            queued = await self.queue.with_options(job_id=new_id).enqueue_named(
                letter.function, args, keywords, queue_name, meta=meta
            )
            await history.record_origin(self.redis, first, keep)
            if flow is not None:
                await flows.resume(self.redis, flow, queued.job_id)
            await dead_letters.remove(self.redis, job_id)
            warning = await self._unserved_warning(queue_name)
        if queued.created:
            replay_edits.log_replay(first, queue_name, self.settings.log_job_arguments)
        return Replay(queued, job_id, warning, None if edit is None else edit.changes)

    async def preview_replay(self, job_id: str, kwargs: Mapping[str, Any] | None) -> ReplayPreview:
        """What `replay(job_id, kwargs)` would enqueue, and the diff; nothing is written."""
        with unavailable_on_redis_error():
            letter = await self._letter(job_id)
        return replay_edits.preview(self.queue.registry, letter, kwargs)

    async def _letter(self, job_id: str) -> DeadLetter:
        letter = await dead_letters.get(self.redis, job_id)
        if letter is None or not await dead_letters.contains(self.redis, job_id):
            raise DeadLetterNotFound(job_id)
        return letter

    async def _unserved_warning(self, queue_name: str) -> str | None:
        """Why the replayed job may wait forever: no live worker serves its queue (or none is known)."""
        depths = await overview.queue_depths(self.redis, self.settings)
        depth = next((d for d in depths if d.key == queue_name), None)
        if depth is None:
            return f"no worker serves queue {queue_name!r} (not one of this service's queues)"
        if not depth.workers_alive:
            return f"no live worker serves queue {depth.name!r}: the job waits until one starts"
        return None

    async def replay_since(self, since_seconds: int, limit: int, until_ms: int | None = None) -> ReplayBatch:
        """At most `limit` letters of the window (oldest first), each replayed at most once (`replay`).
        Resume with the returned `until_ms` while `remaining`: letters that fail later stay out of it."""
        from_ms, until_ms = dead_letters.window_bounds(since_seconds, until_ms)
        with unavailable_on_redis_error():
            ids = await dead_letters.ids_between(self.redis, from_ms, until_ms, limit)
        replayed = []
        for job_id in ids:
            try:
                replayed.append(await self.replay(job_id))
            except (DeadLetterNotFound, ReplayConflict):
                continue  # replayed concurrently by someone else
        with unavailable_on_redis_error():
            remaining = await dead_letters.count_between(self.redis, from_ms, until_ms)
        return ReplayBatch(replayed, remaining, until_ms)

    async def discard(self, job_id: str) -> None:
        """Drop one dead letter for good (`DeadLetterNotFound` if there is none by that id)."""
        with unavailable_on_redis_error():
            if not await dead_letters.contains(self.redis, job_id):
                raise DeadLetterNotFound(job_id)
            await dead_letters.remove(self.redis, job_id)
        log.info("dead letter discarded", job_id=job_id)

    async def pause(self, priority: str) -> None:
        """The queue's workers take no new job until `resume`; enqueues go on (`UnknownQueue` if no such)."""
        queue_name = self._queue_name(priority)
        with unavailable_on_redis_error():
            await queue_control.pause(self.redis, queue_name)
        log.info("queue paused", queue=queue_name)

    async def resume(self, priority: str) -> None:
        queue_name = self._queue_name(priority)
        with unavailable_on_redis_error():
            await queue_control.resume(self.redis, queue_name)
        log.info("queue resumed", queue=queue_name)

    async def purge(self, priority: str) -> int:
        """Drop every job waiting in the queue (running ones finish); returns how many."""
        queue_name = self._queue_name(priority)
        with unavailable_on_redis_error():
            removed = await queue_control.purge(self.redis, queue_name)
        log.warning("queue purged", queue=queue_name, removed=removed)
        return removed

    async def readiness(self) -> Readiness:
        """The job client's readiness (`/readyz`), with a warning for each queue whose jobs wait and no live
        worker serves it."""
        readiness = await self.queue.readiness()
        if readiness.redis:
            try:
                with unavailable_on_redis_error():
                    depths = await overview.queue_depths(self.redis, self.settings)
            except QueueUnavailable:
                depths = []
            unserved = [d.name for d in depths if d.unserved]
            readiness.warnings += [
                f"{name}: jobs wait and no live worker serves this queue" for name in unserved
            ]
        return readiness

    def _queue_name(self, priority: str) -> str:
        return priorities.queue_name(self.settings, priorities.parse(priority))

    async def snapshot(self) -> Snapshot:
        """One tick of the dashboard."""
        with unavailable_on_redis_error():
            return await overview.snapshot(self.redis, self.settings)

    async def failure_groups(self, limit: int, offset: int, job_id: str | None = None) -> FailureGroupPage:
        """Final failures by function and error type; `job_id` finds the group(s) of matching jobs."""
        with unavailable_on_redis_error():
            return await failure_groups.page(self.redis, limit, offset, job_id)

    async def throughput(self) -> list[throughput.Sample]:
        """The dashboard chart's history (see `throughput.py`)."""
        with unavailable_on_redis_error():
            return await throughput.history(self.redis, self.settings)

    async def metrics_snapshot(self) -> MetricsSnapshot:
        with unavailable_on_redis_error():
            return MetricsSnapshot(
                sums=await metrics.read(self.redis),
                depths=await overview.queue_depths(self.redis, self.settings),
                dead=await dead_letters.count(self.redis),
            )
