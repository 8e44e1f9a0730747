"""What every job of this service receives: `ctx: Ctx`, with its settings and the worker's resources.

Add a resource (a database pool, an SDK client) here: a field on `Resources`, opened in `lifespan`. Each
worker process opens them once at startup and closes them when it stops; a job reaches them, typed, as
`ctx.resources.<name>`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from arqkit import JobContext, SyncJobContext

from settings import Settings


@dataclass(frozen=True)
class Resources:
    http: httpx.AsyncClient  # the email provider's client (jobs/tasks/email.py)


@asynccontextmanager
async def lifespan(settings: Settings) -> AsyncIterator[Resources]:
    timeout = httpx.Timeout(settings.email_api_timeout_seconds, connect=2.0)
    async with httpx.AsyncClient(timeout=timeout) as http:
        yield Resources(http=http)


Ctx = JobContext[Settings, Resources]
# A plain `def` job's, in a worker thread; a `@job(executor="process")` job's (resources stay in the worker).
SyncCtx = SyncJobContext[Settings, Resources]
ProcessCtx = SyncJobContext[Settings, None]
