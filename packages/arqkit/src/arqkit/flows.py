"""Flows: a chain (A then B then C), a group (A, B, C at once) and a group with a callback (D once all of
A, B, C succeeded), each step an ordinary registered job with its own retries, queue and dead letter.

    flow = chain(step(charge, ...), group(step(receipt, ...), step(invoice, ...)), step(mark_done, ...))
    started = await queue.enqueue_flow(flow)  # started.job_id is the flow's id: GET /jobs/{id} shows it
    await queue.enqueue_flow(group(step(a), step(b)).then(step(report), on_failure="run_callback"))

A flow is stages run one after another; a stage's steps run at once. Its state is a Redis hash
(`keys.flow`), and it advances in the same atomic write that stores a step's result (`lua/flow_step.lua`
inside arq's finish: `internals/result_tap.py`), so a worker killed at any moment leaves both or neither,
and a step that runs twice (delivery is at least once) is counted once. Every step's payload is
serialized here, when the flow begins; the Lua only moves a stage's payloads into the queue.

A step's job that expires before any worker runs it has a result with no payload (no meta naming its
flow): its step link (`keys.flow_step`, renewed with the flow's record at each step's end) names the flow,
and it ends as a failed step, in the same write. When a step finally fails (its dead letter), the policy
decides: `fail_flow` (the default) cancels the stages not yet begun; `run_callback` runs the next stage
anyway, which reads `await failures(ctx)`. Replaying the failed step's dead letter resumes the flow
(`admin.py`). Reading, cancelling and the status shape are `flow_status.py`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from os import urandom
from typing import Any, Literal, ParamSpec, TypeVar, cast

import orjson
from pydantic import BaseModel
from redis.asyncio import Redis

from arqkit import keys, lua, priorities
from arqkit.errors import JobNotRegistered, ReplicationTimeout
from arqkit.internals.enqueue import WAKE_TOKENS_MAX
from arqkit.internals.layout import serialize_job
from arqkit.internals.wakeup import WakeableRedis
from arqkit.job import JobDefinition
from arqkit.priorities import Priority
from arqkit.registry import Registry
from arqkit.serializer import META_KWARG, error_of, exception_record
from arqkit.settings import QueueSettings

P = ParamSpec("P")
R = TypeVar("R")
FailurePolicy = Literal["fail_flow", "run_callback"]
ARQ_EXPIRES_EXTRA_MS = 86_400_000  # arq's: a job key lives a day past its due time
UNKNOWN_FUNCTION = "<unknown>"  # arq's function name in the result of a job whose payload it never read


@dataclass(frozen=True)
class Step:
    """One job of a flow, its arguments checked against its signature when declared."""

    job: JobDefinition[Any, Any]
    args: list[Any]
    kwargs: dict[str, Any]
    priority: Priority | None = None  # None: the job's own `@job(priority=...)`

    def at(self, priority: Priority) -> Step:
        """This step on another priority's queue than its job's own: `step(report, ...).at("bulk")`."""
        return replace(self, priority=priority)


@dataclass(frozen=True)
class Group:
    """Steps that run at once."""

    steps: tuple[Step, ...]

    def then(self, callback: Step, *, on_failure: FailurePolicy = "fail_flow") -> Flow:
        """`callback` once every step of the group has succeeded (`fail_flow`) or ended (`run_callback`)."""
        return chain(self, callback, on_failure=on_failure)


@dataclass(frozen=True)
class Flow:
    stages: tuple[tuple[Step, ...], ...]
    on_failure: FailurePolicy = "fail_flow"


def step(job: JobDefinition[P, R], /, *args: P.args, **kwargs: P.kwargs) -> Step:
    """A step running `job` with these arguments (`JobArgumentsInvalid` if they do not fit)."""
    json_args, json_kwargs = job.arguments.encode(args, cast(dict[str, Any], kwargs))
    return Step(job, json_args, json_kwargs)


def group(*steps: Step) -> Group:
    if not steps:
        raise ValueError("a group needs at least one step")
    return Group(tuple(steps))


def chain(*parts: Step | Group, on_failure: FailurePolicy = "fail_flow") -> Flow:
    """Each part once the one before it has succeeded; a part may be a group."""
    if not parts:
        raise ValueError("a chain needs at least one step")
    return Flow(tuple(part.steps if isinstance(part, Group) else (part,) for part in parts), on_failure)


def is_flow_id(job_id: str) -> bool:
    return job_id.startswith(keys.FLOW_ID_PREFIX)


def check_registered(registry: Registry, flow: Flow | Group) -> None:
    """`JobNotRegistered` for the first step whose job `registry` lacks (by identity, as `enqueue`)."""
    stages = flow.stages if isinstance(flow, Flow) else (flow.steps,)
    for one in (one for stage in stages for one in stage):
        if registry.get(one.job.name) is not one.job:
            raise JobNotRegistered(f"{one.job.name!r} is not in the registry: add it to the Registry")


async def start(
    redis: Redis,
    settings: QueueSettings,
    flow: Flow | Group,
    *,
    registry: Registry | None = None,
    flow_id: str | None = None,
    meta: Mapping[str, Any] | None = None,
) -> tuple[str, bool]:
    """Write the flow and enqueue its first stage, in one Lua call: (its id, False if it existed already).
    From a route use `JobQueue.enqueue_flow`; from a job, `await start(ctx.redis, ctx.settings, flow)`.
    Every step's job must be in `registry` (from a job: the worker's, which `ctx.redis` carries), as an
    enqueue's must: else `JobNotRegistered`, before anything is written."""
    if registry is None and isinstance(redis, WakeableRedis):
        registry = redis.registry
    if registry is None:
        raise JobNotRegistered(
            "no registry to check the flow's steps against: pass flows.start(registry=...)"
        )
    check_registered(registry, flow)
    if isinstance(flow, Group):
        flow = chain(flow)
    flow_id = flow_id or keys.FLOW_ID_PREFIX + urandom(16).hex()
    now_ms = int(time.time() * 1000)
    stages = [[urandom(16).hex() for _ in stage] for stage in flow.stages]
    args: list[Any] = [orjson.dumps({"policy": flow.on_failure, "stages": stages})]
    args += [settings.flow_keep_seconds * 1000, ARQ_EXPIRES_EXTRA_MS, keys.job(""), keys.result("")]
    args += [keys.wake(""), WAKE_TOKENS_MAX, keys.flow_step(""), flow_id]
    for number, (stage, ids) in enumerate(zip(flow.stages, stages, strict=True), start=1):
        for one, step_id in zip(stage, ids, strict=True):
            step_meta = {**(meta or {}), "flow": flow_id, "flow_step": step_id}
            payload = serialize_job(one.job.name, one.args, one.kwargs, None, now_ms, step_meta)
            queue = priorities.queue_name(settings, one.priority or one.job.options.priority)
            args += [step_id, number, one.job.name, queue, payload]
    async with redis.pipeline(transaction=False) as pipe:  # one connection: WAIT covers the write
        pipe.eval(lua.source("flow_start"), 1, keys.flow(flow_id), *args)
        if settings.redis_min_replicas:  # as an enqueue's (internals/enqueue.py)
            pipe.wait(
                settings.redis_min_replicas, max(1, round(settings.redis_min_replicas_timeout_seconds * 1000))
            )
        created, *acknowledged = await pipe.execute()
    if acknowledged and acknowledged[0] < settings.redis_min_replicas:
        wanted = settings.redis_min_replicas
        raise ReplicationTimeout(f"{acknowledged[0]} of {wanted} replicas confirmed the flow in time")
    return flow_id, bool(created)


class StepFailure(BaseModel):
    """A step that failed for good, as a `run_callback` callback reads it (`failures`)."""

    job_id: str
    function: str
    error: dict[str, str]


async def failures(ctx: Any) -> list[StepFailure]:
    """Inside a flow's step (a callback under `run_callback`): the steps of its flow that failed for good."""
    redis: Redis = ctx.redis
    link = await redis.get(keys.flow_step(ctx.job_id))
    if link is None:
        return []
    flow_id = link.decode().split(" ")[0]
    raw: dict[bytes, bytes] = await redis.hgetall(keys.flow(flow_id))  # type: ignore[misc]
    fields = {k.decode(): v.decode() for k, v in raw.items()}
    found = []
    for name, status in fields.items():
        if name.startswith("st:") and status in ("failed", "aborted"):
            step_id = name[3:]
            error = orjson.loads(fields.get(f"err:{step_id}", "{}"))
            job_id, function = fields.get(f"job:{step_id}", step_id), fields.get(f"fn:{step_id}", "")
            found.append(StepFailure(job_id=job_id, function=function, error=error))
    return found


def finish_command(data: dict[str, Any]) -> tuple[Any, ...] | None:
    """For a result arq is about to store: the EVAL of `lua/flow_step.lua` that advances the result's flow
    in the same MULTI (`internals/result_tap.py`), or None if its job is not a flow's step.

    A job that expired before any worker ran it has a result with no payload (`f` "<unknown>", no meta):
    the EVAL then names the job's step link instead, and the Lua finds the flow from it (or does nothing:
    not a step). Its end is a failure, under the flow's policy as any other."""
    kwargs = data.get("k")
    meta = kwargs.get(META_KWARG) if isinstance(kwargs, dict) else None
    job_id = data.get("id")
    if not isinstance(job_id, str):
        return None
    if isinstance(meta, dict) and "flow" in meta:
        flow_id, step_id = meta.get("flow"), meta.get("flow_step")
        if not (isinstance(flow_id, str) and isinstance(step_id, str)):
            return None
        key = keys.flow(flow_id)
    elif data.get("f") == UNKNOWN_FUNCTION and data.get("s") is False:
        key, step_id = keys.flow_step(job_id), ""  # expired unrun: the Lua reads the link
    else:
        return None
    result = data.get("r")
    error: dict[str, Any] = {}
    if data.get("s"):
        outcome = "complete"
    elif isinstance(result, asyncio.CancelledError):
        outcome, error = "aborted", {"type": "CancelledError", "message": "aborted"}
    else:
        outcome = "failed"
        record = exception_record(result) if isinstance(result, BaseException) else result
        error = error_of(record) or {"type": "JobExecutionFailed", "message": str(result)}
    script = lua.source("flow_step")
    prefixes = (
        keys.job(""),
        keys.result(""),
        keys.wake(""),
        WAKE_TOKENS_MAX,
        keys.flow_step(""),
        keys.flow(""),
    )
    began = data.get("st") if step_id and isinstance(data.get("st"), int) else ""
    return ("EVAL", script, 1, key, step_id, job_id, outcome, orjson.dumps(error), *prefixes, began)


async def replay_link(redis: Redis, job_id: str) -> tuple[str, str] | None:
    """The (flow id, step id) a dead letter's job ran, if it was a flow's step."""
    link = await redis.get(keys.flow_step(job_id))
    if link is None:
        return None
    flow_id, _, step_id = link.decode().partition(" ")
    return flow_id, step_id


async def resume(redis: Redis, link: tuple[str, str], replay_job_id: str) -> None:
    """A replay of the step's dead letter now runs the step: the flow shows it, its end advances it."""
    flow_id, step_id = link
    await redis.eval(  # type: ignore[misc]
        lua.source("flow_resume"),
        2,
        keys.flow(flow_id),
        keys.flow_step(replay_job_id),
        step_id,
        replay_job_id,
        f"{flow_id} {step_id}",
    )


def replay_meta(link: tuple[str, str] | None) -> dict[str, str]:
    return {"flow": link[0], "flow_step": link[1]} if link else {}


def stage_ids(spec: Any) -> Sequence[Sequence[str]]:
    """A flow record's stages (step ids), or none if the record is not one `start` wrote."""
    stages = spec.get("stages") if isinstance(spec, dict) else None
    if not isinstance(stages, list) or not all(isinstance(stage, list) for stage in stages):
        return []
    return stages if all(isinstance(one, str) for stage in stages for one in stage) else []
