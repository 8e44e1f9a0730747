"""`QueueService`: the pieces a FastAPI app mounts to serve jobs. One shared Redis pool per process,
opened and closed by the lifespan, with the job client, the operator interface and the rate limiter on it.

    service = QueueService(settings, REGISTRY, rate_limits={"signup": settings.rate_limit_signup})
    app = FastAPI(lifespan=service.lifespan)
    service.install(app)  # error handlers, /jobs, /healthz, /readyz, /metrics, /admin, the middleware
    app.include_router(your_router)

Your own lifespan wraps the service's: `async with service.lifespan(app): ... yield`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig
from redis.exceptions import RedisError

from arqkit import JobQueue, QueueAdmin, Registry, deadline, throughput, tracing
from arqkit.logs import configure_logging
from arqkit.metrics import MetricsBatch, flush, flush_forever
from arqkit.settings import QueueSettings
from arqkit.web import admin
from arqkit.web.admin_guard import AuthThrottle
from arqkit.web.errors import install_error_handlers
from arqkit.web.events import JobEventStreams
from arqkit.web.middleware import RequestMiddleware
from arqkit.web.prometheus import request_observer
from arqkit.web.rate_limit import ApiRateLimiter, undeclared_limits
from arqkit.web.route_jobs import unregistered_jobs
from arqkit.web.routes import health, jobs, metrics
from arqkit.web.session import AdminSessions


class QueueService:
    """The job machinery of one FastAPI app: its lifespan, and what `install` adds to the app."""

    def __init__(
        self, settings: QueueSettings, registry: Registry, *, rate_limits: Mapping[str, str] = {}
    ) -> None:
        configure_logging(settings)
        self.settings = settings
        self.registry = registry
        self.rate_limits = dict(rate_limits)  # name -> rate ("5/minute"), for RateLimit(name) routes
        self.http_metrics = MetricsBatch()

    @asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        settings = self.settings
        queue = JobQueue.connect(settings, self.registry)  # lazily: the API starts while Redis is away
        limiter = ApiRateLimiter(queue.redis, settings, self.rate_limits)
        if undeclared := undeclared_limits(app, limiter):
            await queue.aclose()
            raise RuntimeError(f"rate limits not declared in QueueService(rate_limits=...): {undeclared}")
        if unregistered := unregistered_jobs(app, self.registry):
            await queue.aclose()
            raise RuntimeError(f"jobs not in the registry given to QueueService: {unregistered}")
        app.state.settings = settings
        app.state.queue = queue
        app.state.admin = QueueAdmin(queue)
        app.state.rate_limiter = limiter
        app.state.job_streams = JobEventStreams(settings)
        app.state.admin_sessions = AdminSessions(queue.redis, settings)
        app.state.auth_throttle = AuthThrottle(queue.redis, settings, limiter)
        stop_tracing = tracing.install(settings, "api")
        stopping = asyncio.Event()
        flusher = asyncio.create_task(flush_forever(self.http_metrics, queue.redis, settings, stopping))
        sampler = asyncio.create_task(throughput.record_forever(queue.redis, settings, stopping))
        try:
            yield
        finally:
            stopping.set()
            flusher.cancel()
            sampler.cancel()
            await asyncio.wait([flusher, sampler], timeout=settings.redis_request_budget_seconds)
            budget = deadline.budget(settings.redis_request_budget_seconds)  # a frozen Redis: no hang
            with contextlib.suppress(RedisError, OSError), budget:
                await flush(self.http_metrics, queue.redis, settings)
            if stop_tracing is not None:
                stop_tracing()
            await queue.aclose()

    def telemetry(self) -> TelemetryConfig:
        """FastAPI's own OpenTelemetry spans while tracing is on (a job's parent is then the route's span);
        off otherwise, else FastAPI asks OpenTelemetry for a provider on every request."""
        if self.settings.tracing_enabled:
            return {"operation_spans": False}
        return {"tracing": False, "metrics": False}

    def install(self, app: FastAPI) -> None:
        """Error handlers, the job status, health and metrics routes, the admin, and the middleware."""
        app.state.settings = self.settings
        install_error_handlers(app)
        for router in (jobs.router, health.router, metrics.router):
            app.include_router(router)
        admin.install(app)
        # One layer, outermost of ours: its request id covers everything inside; its metrics count the 413s.
        app.add_middleware(
            RequestMiddleware,
            max_body_bytes=self.settings.max_body_bytes,
            redis_budget_seconds=self.settings.redis_request_budget_seconds,
            observe=request_observer(self.http_metrics),
        )
