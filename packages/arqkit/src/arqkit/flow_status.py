"""A flow as `GET /jobs/{flow id}` answers it: the flow's status and each step's, read from the flow's hash
(`flows.py`) and each step's job. Also its cancel (`DELETE /jobs/{flow id}`).

A step's status is its job's (queued ... complete, failed, aborted), or `waiting` (its stage has not
begun) or `cancelled` (it never will: a failure under `fail_flow`, or the flow was cancelled).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

import orjson
import structlog
from pydantic import BaseModel
from redis.asyncio import Redis

from arqkit import flows, keys, lua
from arqkit.errors import JobAlreadyFinished, JobNotFound, unavailable_on_redis_error
from arqkit.status import JobError, JobStatus, Status, queue_reads, status_from

if TYPE_CHECKING:
    from arqkit.client import JobQueue

log = structlog.get_logger("jobs.flows")
StepStatus = Status | Literal["waiting", "cancelled"]
_ENDED = ("failed", "aborted")
_FINAL = ("complete", "failed", "aborted")


class FlowStep(BaseModel):
    job_id: str
    function: str
    stage: int  # 1-based: the steps of a stage run at once, each stage after the one before
    status: StepStatus
    error: JobError | None = None


class FlowStatus(JobStatus):
    """A job status (the same fields, `function` "flow") plus the steps; `progress` is the share done."""

    on_failure: flows.FailurePolicy
    steps: list[FlowStep]


async def read_flow(redis: Redis, flow_id: str, queue_names: Sequence[str]) -> FlowStatus | None:
    """None if there is no such flow (or its record is not one we wrote). Two round trips, whatever the
    number of steps: the record, then every begun step's status and the record again, in one pipeline."""
    names = list(queue_names)
    fields = await _record(redis, flow_id)
    try:
        spec = orjson.loads(fields["spec"])
    except (KeyError, orjson.JSONDecodeError):
        spec = None
    stages = flows.stage_ids(spec)
    if not stages:
        if fields:
            log.warning("unreadable flow record", flow_id=flow_id)
        return None
    begun = [
        (step_id, fields.get(f"job:{step_id}", step_id))
        for stage in stages
        for step_id in stage
        if fields.get(f"st:{step_id}", "waiting") not in ("waiting", "cancelled")
    ]
    async with redis.pipeline(transaction=False) as pipe:
        for _, job_id in begun:
            queue_reads(pipe, job_id, names)
        # The record again, after the steps: a step seen ended has its end in it (one write), so the steps
        # it cancelled or began and the flow's end time are at least as new as the steps' own statuses.
        pipe.hgetall(keys.flow(flow_id))
        replies = await pipe.execute()
    width = (len(replies) - 1) // len(begun) if begun else 0  # each step: the same reads
    found: dict[str, JobStatus | None] = {
        step_id: status_from(job_id, names, replies[number * width : (number + 1) * width])
        for number, (step_id, job_id) in enumerate(begun)
    }
    fields = _decoded(replies[-1]) or fields  # (empty: it expired meanwhile)
    steps = [
        _step(fields, step_id, number, found)
        for number, stage in enumerate(stages, start=1)
        for step_id in stage
    ]
    status = _flow_status(fields, spec.get("policy"), steps, len(stages))
    done = sum(1 for one in steps if one.status == "complete")
    failed = next((one.error for one in steps if one.error is not None), None)
    return FlowStatus(
        job_id=flow_id,
        function="flow",
        queue="",
        status=status,
        try_=0,
        max_tries=None,
        enqueued_at=_time(fields.get("created_ms")),
        started_at=_started(fields, found),
        finished_at=_time(fields.get("finished_ms")) if status in _FINAL else None,
        progress=done / len(steps) if steps else None,
        error=failed if status in _ENDED else None,
        on_failure="run_callback" if spec.get("policy") == "run_callback" else "fail_flow",
        steps=steps,
    )


async def _record(redis: Redis, flow_id: str) -> dict[str, str]:
    raw: dict[bytes, bytes] = await redis.hgetall(keys.flow(flow_id))  # type: ignore[misc]
    return _decoded(raw)


def _decoded(raw: dict[bytes, bytes]) -> dict[str, str]:
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in raw.items()}


def _started(fields: dict[str, str], found: dict[str, JobStatus | None]) -> datetime | None:
    """When its first step began: the earliest start a step's end recorded (`lua/flow_advance.lua`), or
    of a step running now (its job's own record), whichever is earlier; None until a step has begun."""
    times = [one.started_at for one in found.values() if one is not None and one.started_at is not None]
    recorded = _time(fields.get("started_ms"))
    return min([*times, *([recorded] if recorded else [])], default=None)


def _step(fields: dict[str, str], step_id: str, stage: int, found: dict[str, JobStatus | None]) -> FlowStep:
    recorded = fields.get(f"st:{step_id}", "waiting")
    job_id = fields.get(f"job:{step_id}", step_id)
    function = fields.get(f"fn:{step_id}", "")
    status: StepStatus = "cancelled" if recorded == "cancelled" else "waiting"
    error = None
    if recorded not in ("waiting", "cancelled"):
        live = found.get(step_id)
        status = live.status if live else _as_status(recorded)
        error = live.error if live else None
    if error is None and recorded in _ENDED:
        error = _error(fields.get(f"err:{step_id}"))
    return FlowStep(job_id=job_id, function=function, stage=stage, status=status, error=error)


def _error(raw: str | None) -> JobError | None:
    try:
        return JobError.model_validate_json(raw) if raw else None
    except ValueError:  # not what flow_advance.lua wrote
        return None


def _as_status(recorded: str) -> Status:
    """The flow's record of a step whose job is gone (its result expired)."""
    return "complete" if recorded == "complete" else "failed" if recorded == "failed" else "queued"


def _flow_status(fields: dict[str, str], policy: object, steps: list[FlowStep], stages: int) -> Status:
    if "aborted" in fields:
        return "aborted"
    if policy != "run_callback" and any(one.status in _ENDED for one in steps):
        return "failed"
    last = [one for one in steps if one.stage == stages]
    if all(one.status == "complete" for one in last):
        return "complete"
    if all(one.status in _FINAL for one in last):
        return "failed"  # run_callback: the last stage ended, not all of it well
    if any(one.status not in ("queued", "deferred", "waiting") for one in steps):
        return "in_progress"
    return "queued"


async def abort(queue: JobQueue, flow_id: str) -> None:
    """`DELETE /jobs/{flow id}`: no stage of the flow begins any more; its enqueued steps are aborted as
    jobs are (a running one is cancelled by its worker). `JobAlreadyFinished` once the flow has ended."""
    if (await queue.status(flow_id)).status in _FINAL:
        raise JobAlreadyFinished(flow_id)
    with unavailable_on_redis_error():
        enqueued = await queue.redis.eval(lua.source("flow_cancel"), 1, keys.flow(flow_id))  # type: ignore[misc]
    if enqueued == -1:
        raise JobNotFound(flow_id)
    for job_id in enqueued:
        try:
            await queue.abort(job_id.decode())
        except (JobAlreadyFinished, JobNotFound):
            continue  # it ended meanwhile: its end no longer advances the flow


def _time(ms: str | None) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(ms) / 1000, UTC) if ms else None
    except (ValueError, OverflowError, OSError):
        return None
