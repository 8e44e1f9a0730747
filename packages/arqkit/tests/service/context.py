"""The fixture service's job context: its settings and one resource, an HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from arqkit import JobContext
from tests.service.settings import Settings


@dataclass(frozen=True)
class Resources:
    http: httpx.AsyncClient


@asynccontextmanager
async def lifespan(settings: Settings) -> AsyncIterator[Resources]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0, connect=2.0)) as http:
        yield Resources(http=http)


Ctx = JobContext[Settings, Resources]
