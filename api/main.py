"""The app factory: one shared Redis pool per process, opened and closed by the lifespan.

Run with `uvicorn api.main:app`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.errors import install_error_handlers
from api.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from api.routes import admin, health, jobs, producers
from jobs.client import JobQueue
from jobs.connection import create_api_redis
from jobs.logs import configure_logging
from settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = create_api_redis(settings)  # connects lazily: the API starts even while Redis is away
        app.state.queue = JobQueue(redis, settings)
        try:
            yield
        finally:
            await redis.aclose()

    app = FastAPI(title="FastAPI + arq service", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    install_error_handlers(app)
    for router in (producers.router, jobs.router, health.router, admin.router):
        app.include_router(router)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware)  # outermost: its request id covers everything inside
    return app


app = create_app()
