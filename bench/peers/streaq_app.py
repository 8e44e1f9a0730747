"""streaq's enqueue endpoint: `async with worker` in the lifespan, `task.enqueue()` in the route.
`uvicorn bench.peers.streaq_app:app`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from bench.peers.common import SignupIn
from bench.peers.streaq_worker import noop, worker


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with worker:
        yield


app = FastAPI(lifespan=lifespan)


@app.post("/signup", status_code=202)
async def signup(body: SignupIn) -> dict[str, str]:
    task = await noop.enqueue()
    return {"job_id": task.id}


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
