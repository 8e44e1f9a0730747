"""The API the enqueue benchmark loads: the template's own app, plus the endpoints it is compared with.

Every endpoint sits behind the same middleware (request-id logging, metrics, body limit); the signup
ones also take the same `SignupIn` and the same rate-limit dependency as `/signup`: only what they do
with the signup differs. `uvicorn bench.app:app`.
"""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from arqkit import Registry
from arqkit.client import Enqueued
from arqkit.serializer import META_KWARG
from arqkit.web.deps import QueueDep
from arqkit.web.rate_limit import RateLimit
from arqkit.web.schemas import Accepted, accepted
from fastapi import APIRouter, BackgroundTasks, Response, status

from api.main import create_app
from api.schemas import SignupIn
from bench.workers import bench_noop
from jobs.registry import REGISTRY
from jobs.tasks.email import send_welcome_email

router = APIRouter(prefix="/bench")


@router.post("/signup-enqueue-job", status_code=status.HTTP_202_ACCEPTED, dependencies=[RateLimit("signup")])
async def signup_with_enqueue_job(body: SignupIn, queue: QueueDep, response: Response) -> Accepted:
    """/signup as it was: arq's own `enqueue_job` (WATCH, EXISTS, MULTI/PSETEX/ZADD/EXEC)."""
    meta: dict[str, Any] = {
        META_KWARG: {"request_id": structlog.contextvars.get_contextvars().get("request_id")}
    }
    job = await queue.redis.enqueue_job(
        send_welcome_email.name, email=str(body.email), name=body.name, **meta
    )
    assert job is not None  # a fresh random id cannot exist yet
    return accepted(Enqueued(job.job_id, "queued", created=True), response)


def _send_welcome_email_now(email: str, name: str) -> None:
    """The BackgroundTasks stand-in for the job: a sync task in the same process, after the response."""
    f"Hi {name}, thanks for signing up.".encode()


@router.post("/signup-background", status_code=status.HTTP_202_ACCEPTED, dependencies=[RateLimit("signup")])
async def signup_with_background_task(body: SignupIn, tasks: BackgroundTasks, response: Response) -> Accepted:
    tasks.add_task(_send_welcome_email_now, str(body.email), body.name)
    return accepted(Enqueued(uuid.uuid4().hex, "queued", created=True), response)


@router.post("/noop", status_code=status.HTTP_202_ACCEPTED)
async def enqueue_noop(queue: QueueDep, response: Response) -> Accepted:
    """Enqueue a no-op job as a producer does, without a rate limit: what bench/capacity.py loads."""
    return accepted(await queue.enqueue(bench_noop), response)


@router.post("/bare", status_code=status.HTTP_202_ACCEPTED)
async def bare() -> dict[str, bool]:
    """No body, no Redis: what the server and the middleware cost on their own."""
    return {"accepted": True}


app = create_app(registry=Registry([*REGISTRY, bench_noop]))  # /noop enqueues the benchmark's job
app.include_router(router)
