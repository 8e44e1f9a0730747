"""Celery's enqueue endpoint: `.delay()` is a blocking call, so the route is a plain `def` (FastAPI runs it
in its thread pool, as its docs advise for blocking I/O). `uvicorn bench.peers.celery_app:app`."""

from __future__ import annotations

from fastapi import FastAPI

from bench.peers.celery_worker import noop
from bench.peers.common import SignupIn

app = FastAPI()


@app.post("/signup", status_code=202)
def signup(body: SignupIn) -> dict[str, str]:
    return {"job_id": noop.delay().id}


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
