"""FastAPI's BackgroundTasks, minimal: the task runs in the API process after the response (not durable).

`uvicorn bench.peers.background_app:app`, in the project's venv: a sync no-op (run in the thread pool)
and an async no-op (run on the event loop).
"""

from __future__ import annotations

import uuid

from fastapi import BackgroundTasks, FastAPI

from bench.peers.common import SignupIn, noop_job

app = FastAPI()


async def async_noop() -> None:
    noop_job()


@app.post("/signup", status_code=202)
async def signup(body: SignupIn, tasks: BackgroundTasks) -> dict[str, str]:
    tasks.add_task(noop_job)  # a plain function: Starlette runs it in the thread pool
    return {"job_id": uuid.uuid4().hex}


@app.post("/signup-async", status_code=202)
async def signup_async(body: SignupIn, tasks: BackgroundTasks) -> dict[str, str]:
    tasks.add_task(async_noop)
    return {"job_id": uuid.uuid4().hex}


@app.post("/bare", status_code=202)
async def bare() -> dict[str, bool]:
    """No body, no Redis, no middleware: what the server costs on its own."""
    return {"accepted": True}


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
