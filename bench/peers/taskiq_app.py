"""taskiq's enqueue endpoint: the broker started in the lifespan, `.kiq()` in the route.
`uvicorn bench.peers.taskiq_app:app`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from bench.peers.common import SignupIn
from bench.peers.taskiq_worker import broker, noop


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    await broker.startup()
    yield
    await broker.shutdown()


app = FastAPI(lifespan=lifespan)


@app.post("/signup", status_code=202)
async def signup(body: SignupIn) -> dict[str, str]:
    task = await noop.kiq()
    return {"job_id": task.task_id}


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
