"""The app factory: one shared Redis pool per process, opened and closed by the lifespan.

Run with `uvicorn api.main:app`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.telemetry import TelemetryConfig
from redis.exceptions import RedisError

from api.errors import install_error_handlers
from api.metrics import request_observer
from api.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from api.ratelimit import ApiRateLimiter
from api.routes import admin, admin_jobs, dashboard, health, jobs, metrics, producers
from jobs import tracing
from jobs.client import JobQueue
from jobs.connection import create_api_redis
from jobs.logs import configure_logging
from jobs.metrics import MetricsBatch, flush, flush_forever
from settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)
    http_metrics = MetricsBatch()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = create_api_redis(settings)  # connects lazily: the API starts even while Redis is away
        app.state.queue = JobQueue(redis, settings)
        app.state.rate_limiter = ApiRateLimiter(redis, settings)
        stop_tracing = tracing.install(settings, "api")
        flusher = asyncio.create_task(flush_forever(http_metrics, redis, settings))
        try:
            yield
        finally:
            flusher.cancel()
            with contextlib.suppress(RedisError, OSError):
                await flush(http_metrics, redis, settings)
            if stop_tracing is not None:
                stop_tracing()
            await redis.aclose()

    # FastAPI's own OpenTelemetry spans, once a tracer provider is installed (jobs/tracing.py). Without its
    # per-operation spans, the span active in a route, and so a job's parent, is the request's own span.
    telemetry: TelemetryConfig = {"operation_spans": False}
    app = FastAPI(title="FastAPI + arq service", version="0.1.0", lifespan=lifespan, telemetry=telemetry)
    app.state.settings = settings
    install_error_handlers(app)
    routers = (producers, jobs, health, metrics, admin, admin_jobs, dashboard)
    for module in routers:
        app.include_router(module.router)
    app.mount("/admin/static", StaticFiles(directory=dashboard.STATIC_DIR), name="admin-static")
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    # Outermost: its request id covers everything inside, and the HTTP metrics count the 413s too.
    app.add_middleware(RequestContextMiddleware, observe=request_observer(http_metrics))
    return app


app = create_app()
