"""The app: your routes plus the job machinery's (`arqkit.web.QueueService`). Run `uvicorn api.main:app`."""

from __future__ import annotations

import gc

from arqkit import Registry
from arqkit.web import QueueService
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from api.routes import producers
from jobs.registry import REGISTRY
from settings import Settings, get_settings


def create_app(settings: Settings | None = None, registry: Registry = REGISTRY) -> FastAPI:
    """`registry`: the jobs the app may enqueue (the workers' list); a route naming another stops startup."""
    settings = settings or get_settings()
    service = QueueService(
        settings,
        registry,
        # Each RateLimit(name) / RateLimitedQueue(name) of your routes, with its rate (per client).
        rate_limits={"signup": settings.rate_limit_signup, "producers": settings.rate_limit_producers},
    )
    # FastAPIOffline: /docs and /redoc load Swagger UI and ReDoc from an installed package, not a CDN.
    app = FastAPIOffline(
        title="FastAPI + arq service",
        version="0.1.0",
        lifespan=service.lifespan,
        telemetry=service.telemetry(),
    )
    # Your routes first: FastAPI tries an app's routers in order, so the hot producer routes are matched
    # before the machinery's (jobs, admin, dashboard, health). A fifth of `POST /signup`'s instructions
    # went to trying those first (issue 24).
    app.include_router(producers.router)
    service.install(app)
    return app


app = create_app()
# What import made (modules, the app, its schemas) lives as long as the process: out of the collector's
# sight, each later collection walks only what requests make.
gc.freeze()
