"""saq's enqueue endpoint: the queue connected in the lifespan, `queue.enqueue` in the route.
`uvicorn bench.peers.saq_app:app`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from bench.peers.common import SignupIn
from bench.peers.saq_worker import queue


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    await queue.connect()
    yield
    await queue.disconnect()


app = FastAPI(lifespan=lifespan)


@app.post("/signup", status_code=202)
async def signup(body: SignupIn) -> dict[str, str]:
    job = await queue.enqueue("noop")
    return {"job_id": job.id if job else ""}


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
