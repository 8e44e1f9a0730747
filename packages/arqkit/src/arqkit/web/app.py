"""The app factory behind `api/main.py`: one shared Redis pool per process, opened and closed by the
lifespan, with the job client, the operator interface and the rate limiter on it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.telemetry import TelemetryConfig
from fastapi_offline import FastAPIOffline
from redis.exceptions import RedisError
from settings import Settings

from arqkit import JobQueue, QueueAdmin, Registry, deadline, throughput, tracing
from arqkit.logs import configure_logging
from arqkit.metrics import MetricsBatch, flush, flush_forever
from arqkit.web import admin
from arqkit.web.admin_guard import AuthThrottle
from arqkit.web.errors import install_error_handlers
from arqkit.web.events import JobEventStreams
from arqkit.web.middleware import RequestMiddleware
from arqkit.web.prometheus import request_observer
from arqkit.web.rate_limit import ApiRateLimiter
from arqkit.web.routes import health, jobs, metrics
from arqkit.web.session import AdminSessions


def build_app(settings: Settings, registry: Registry, routers: Sequence[APIRouter] = ()) -> FastAPI:
    """The service: your `routers`, then the job status, health, metrics and admin routes."""
    configure_logging(settings)
    http_metrics = MetricsBatch()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        queue = JobQueue.connect(settings, registry)  # lazily: the API starts even while Redis is away
        app.state.queue = queue
        app.state.admin = QueueAdmin(queue)
        app.state.rate_limiter = ApiRateLimiter(queue.redis, settings)
        app.state.job_streams = JobEventStreams(settings)
        app.state.admin_sessions = AdminSessions(queue.redis, settings)
        app.state.auth_throttle = AuthThrottle(queue.redis, settings, app.state.rate_limiter)
        stop_tracing = tracing.install(settings, "api")
        flusher = asyncio.create_task(flush_forever(http_metrics, queue.redis, settings))
        sampler = asyncio.create_task(throughput.record_forever(queue.redis, settings))
        try:
            yield
        finally:
            flusher.cancel()
            sampler.cancel()
            budget = deadline.budget(settings.redis_request_budget_seconds)  # a frozen Redis: no hang
            with contextlib.suppress(RedisError, OSError), budget:
                await flush(http_metrics, queue.redis, settings)
            if stop_tracing is not None:
                stop_tracing()
            await queue.aclose()

    # FastAPI's own OpenTelemetry spans, once a tracer provider is installed (arqkit/tracing.py). Without
    # its per-operation spans, the span active in a route, and so a job's parent, is the request's own span.
    # With tracing off, FastAPI's telemetry is off too: else it asks OpenTelemetry for a provider (and
    # reads the environment) on every request, ~3% of a /signup (docs/benchmarks.md).
    telemetry: TelemetryConfig = {"operation_spans": False}
    if not settings.tracing_enabled:
        telemetry = {"tracing": False, "metrics": False}
    # /docs and /redoc load Swagger UI and ReDoc from an installed package, not a CDN: they work offline.
    app = FastAPIOffline(
        title="FastAPI + arq service", version="0.1.0", lifespan=lifespan, telemetry=telemetry
    )
    app.state.settings = settings
    install_error_handlers(app)
    for router in (*routers, jobs.router, health.router, metrics.router):
        app.include_router(router)
    admin.install(app)
    # One layer, outermost of ours: its request id covers everything inside, and the metrics count the 413s.
    app.add_middleware(
        RequestMiddleware,
        max_body_bytes=settings.max_body_bytes,
        redis_budget_seconds=settings.redis_request_budget_seconds,
        observe=request_observer(http_metrics),
    )
    return app
