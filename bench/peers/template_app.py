"""The template's own `POST /signup` route and `JobQueue` on a minimal app, as the peers' apps are: no
middleware (request id, access line, metrics, body limit, Redis budget), no rate limit, one router.

`uvicorn bench.peers.template_app:app`, in the project's venv with `RATE_LIMIT_ENABLED=false`. Set
against `POST /signup` as shipped, it prices the guarantees the shipped app adds around the same enqueue;
set against the peers' minimal apps, it compares the enqueue paths alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from arqkit import JobQueue
from arqkit.web.rate_limit import ApiRateLimiter
from fastapi import FastAPI

from api.routes.producers import router
from jobs.registry import REGISTRY
from settings import Settings

settings = Settings()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    queue = JobQueue.connect(settings, REGISTRY)
    app.state.settings = settings
    app.state.queue = queue
    rates = {"signup": settings.rate_limit_signup, "producers": settings.rate_limit_producers}
    app.state.rate_limiter = ApiRateLimiter(queue.redis, settings, rates)  # asked by the route; off here
    yield
    await queue.aclose()


app = FastAPI(lifespan=lifespan)
app.include_router(router)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
