"""Your app: the template's plumbing (`arqkit.web`) plus your routers. Run `uvicorn api.main:app`."""

from __future__ import annotations

import gc

from arqkit.web.app import build_app
from fastapi import FastAPI

from api.routes import producers
from jobs.registry import REGISTRY
from settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    return build_app(settings or get_settings(), REGISTRY, routers=[producers.router])


app = create_app()
# What import made (modules, the app, its schemas) lives as long as the process: out of the collector's
# sight, each later collection walks only what requests make (a full one under load: 55 ms -> 16 ms).
gc.freeze()
