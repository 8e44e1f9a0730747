"""arq's minimal enqueue endpoint, as arq's docs show it (a pool made in the lifespan, `enqueue_job`).

JSON instead of arq's default pickle (as everywhere in this project). Runs in the project's own venv:
`uvicorn bench.peers.arq_app:app`. Its worker is `bench.workers.ArqTuned` / `ArqDefaults`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from arq import create_pool
from arq.connections import RedisSettings
from fastapi import FastAPI, Request

from bench.peers.common import REDIS_URL, SignupIn

QUEUE = "arq:queue"  # the worker's queue_name (bench.workers reads it from settings; the same default)


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.redis = await create_pool(
        RedisSettings.from_dsn(REDIS_URL), job_serializer=dumps, job_deserializer=json.loads
    )
    yield
    await app.state.redis.aclose()


app = FastAPI(lifespan=lifespan)


@app.post("/signup", status_code=202)
async def signup(body: SignupIn, request: Request) -> dict[str, str]:
    job = await request.app.state.redis.enqueue_job("bench_noop", _queue_name=QUEUE)
    return {"job_id": job.job_id}


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _with_pool(count: int, function: str) -> None:
    redis = await create_pool(
        RedisSettings.from_dsn(REDIS_URL), job_serializer=dumps, job_deserializer=json.loads
    )
    try:
        for start in range(0, count, 200):
            batch = (redis.enqueue_job(function, _queue_name=QUEUE) for _ in range(min(200, count - start)))
            await asyncio.gather(*batch)
    finally:
        await redis.aclose()


async def enqueue_noops(count: int) -> None:
    await _with_pool(count, "bench_noop")


async def enqueue_sleep() -> None:
    await _with_pool(1, "bench_sleep")
