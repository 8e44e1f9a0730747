"""Read-only views of the queue for operators: depth per queue, live workers, recent jobs, job errors.

Everything here is cheap enough to run on every scrape and every dashboard tick: a few Redis calls,
no key scans, whatever the number of jobs.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson
from pydantic import BaseModel, Field
from redis.asyncio import Redis

from arqkit import dead_letters, history, keys, lua, metrics, priorities, records
from arqkit.clock import redis_now
from arqkit.internals.claims import DUE_JOBS_CHECKED
from arqkit.settings import QueueSettings

FinishedStatus = Literal["complete", "retrying", "failed", "aborted"]


class QueueDepth(BaseModel):
    name: priorities.Priority  # the queue's one name on every surface: `default`, `critical`, `bulk`
    priority: priorities.Priority  # the same (kept for clients that read it)
    key: str  # its Redis key (arq's queue): `arq:queue`, `arq:queue:critical`, ...
    queued: int  # due now, waiting for a worker (not running)
    deferred: int  # due later (a deferred enqueue or a retry's backoff)
    in_progress: int  # due jobs a worker holds a claim on (running, or claimed to start now)
    oldest_queued_age_seconds: float  # how long the oldest waiting job has waited; 0 when none waits
    workers_alive: int
    paused: bool  # its workers take no new job (queue_control.py)
    unserved: bool  # jobs wait and no live worker serves the queue: a problem, whatever the cause


class WorkerInfo(BaseModel):
    worker_id: str
    host: str
    pid: int
    queue: str
    jobs_running: int
    last_seen: float  # epoch seconds of its last heartbeat


class RecentJob(BaseModel):
    job_id: str
    function: str
    queue: str | None
    status: FinishedStatus
    try_: int = Field(alias="try")
    finished_at_ms: int
    duration_s: float
    error: dict[str, str] | None


class RecentPage(BaseModel):
    items: list[RecentJob]
    next_cursor: str | None


async def workers(redis: Redis, settings: QueueSettings) -> list[WorkerInfo]:
    """Workers whose heartbeat is fresh (three intervals), from their own records."""
    since = await redis_now(redis) - 3 * settings.worker_heartbeat_seconds
    ids = [raw.decode() for raw in await redis.zrangebyscore(keys.WORKERS, since, "+inf")]
    beats = await redis.mget([keys.worker_heartbeat(worker_id) for worker_id in ids]) if ids else []
    found = []
    for worker_id, raw in zip(ids, beats, strict=True):
        info = _worker_info(raw, keys.worker_heartbeat(worker_id)) if raw is not None else None
        if info is not None:
            found.append(info.model_copy(update={"queue": priorities.label(settings, info.queue)}))
    return sorted(found, key=lambda worker: (worker.queue, worker.worker_id))


def _worker_info(raw: bytes, key: str) -> WorkerInfo | None:
    record = records.json_or_none(raw, key)
    fields = ("worker_id", "host", "pid", "queue", "running", "last_seen")
    if not isinstance(record, dict) or not all(name in record for name in fields):
        return None
    return records.model_or_none(WorkerInfo, orjson.dumps({**record, "jobs_running": record["running"]}), key)


async def queue_depths(redis: Redis, settings: QueueSettings) -> list[QueueDepth]:
    """Per queue, highest priority first, in one round trip (plus the workers' records). Waiting and
    running jobs are told apart by their claims (`lua/queue_state.lua`), not by the workers' heartbeats,
    which are seconds old."""
    names = priorities.all_queue_names(settings)
    now_ms = metrics.now_ms()
    script = lua.source("queue_state")  # EVAL: EVALSHA in a pipeline costs a round trip more (SCRIPT EXISTS)
    async with redis.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.eval(script, 1, name, str(now_ms), keys.in_progress(""), str(DUE_JOBS_CHECKED))
            pipe.exists(keys.paused(name))
        replies = await pipe.execute()
    alive = await workers(redis, settings)
    depths = []
    for index, (name, priority) in enumerate(zip(names, priorities.PRIORITIES, strict=True)):
        (waiting, running, deferred, oldest), paused = replies[2 * index : 2 * index + 2]
        serving = sum(1 for worker in alive if worker.queue == priority)
        oldest_ms = float(oldest) if oldest else now_ms
        depths.append(
            QueueDepth(
                name=priority,
                priority=priority,
                key=name,
                queued=waiting,
                deferred=deferred,
                in_progress=running,
                oldest_queued_age_seconds=max(0.0, (now_ms - oldest_ms) / 1000),
                workers_alive=serving,
                paused=bool(paused),
                unserved=waiting > 0 and serving == 0,
            )
        )
    return depths


async def recent(redis: Redis, status: FinishedStatus, limit: int, cursor: str | None) -> RecentPage:
    """Newest first. The cursor is the `finished_at_ms` to continue below (exclusive), as a string."""
    upper = "+inf" if cursor is None else f"({int(cursor)}"
    raws = await redis.zrevrangebyscore(keys.recent_jobs(status), upper, "-inf", start=0, num=limit + 1)
    parsed = (records.model_or_none(RecentJob, raw, keys.recent_jobs(status)) for raw in raws[:limit])
    items = [item for item in parsed if item is not None]
    next_cursor = str(items[-1].finished_at_ms) if len(raws) > limit and items else None
    return RecentPage(items=items, next_cursor=next_cursor)


async def failed_tries(redis: Redis, job_id: str) -> list[dict[str, Any]]:
    return await history.read(redis, job_id)


class DeadLetterWindow(BaseModel):
    since_seconds: int
    count: int
    items: list[dead_letters.DeadLetter]  # the newest `limit` of them, without tracebacks


async def dead_letters_since(redis: Redis, since_seconds: int, limit: int) -> DeadLetterWindow:
    """What `POST /admin/dead-letters/replay {"since_seconds"}` would replay now: for its confirmation."""
    cutoff_ms = metrics.now_ms() - since_seconds * 1000
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zcount(keys.DEAD_LETTERS, cutoff_ms, "+inf")
        pipe.zrevrangebyscore(keys.DEAD_LETTERS, "+inf", cutoff_ms, start=0, num=limit)
        count, ids = await pipe.execute()
    raws = await redis.hmget(keys.DEAD_LETTER_DATA, ids) if ids else []  # type: ignore[misc]
    items = dead_letters.parse_all(raws)
    return DeadLetterWindow(
        since_seconds=since_seconds,
        count=count,
        items=[item.model_copy(update={"traceback": None}) for item in items],
    )


class Snapshot(BaseModel):
    """One tick of the dashboard: everything it shows, in one message."""

    at_ms: int
    queues: list[QueueDepth]
    workers: list[WorkerInfo]
    totals: dict[str, float]  # job counter -> sum over functions; the page turns it into a rate
    recent_failures: list[RecentJob]
    dead_letters: list[dead_letters.DeadLetter]  # the newest, without tracebacks
    dead_letter_count: int


async def snapshot(redis: Redis, settings: QueueSettings, shown: int = 20) -> Snapshot:
    sums = await metrics.read(redis)
    letters = (await dead_letters.page(redis, shown, None)).items
    return Snapshot(
        at_ms=metrics.now_ms(),
        queues=await queue_depths(redis, settings),
        workers=await workers(redis, settings),
        totals={spec.name: sum(v for k, v in sums.items() if k[0] == spec.name) for spec in metrics.COUNTERS},
        recent_failures=(await recent(redis, "failed", shown, None)).items,
        dead_letters=[letter.model_copy(update={"traceback": None}) for letter in letters],
        dead_letter_count=await redis.zcard(keys.DEAD_LETTERS),
    )
