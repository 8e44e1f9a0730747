"""What a job receives as its first argument, typed: `JobContext[Settings, Resources]`.

Your resources (a database pool, an SDK client) come from a worker lifespan of your own, opened once per
worker process and closed when it stops:

    @asynccontextmanager
    async def lifespan(settings: Settings) -> AsyncIterator[Resources]:
        async with httpx.AsyncClient() as http:
            yield Resources(http=http)

    Ctx = JobContext[Settings, Resources]

    @job()
    async def notify(ctx: Ctx, user_id: int) -> None:
        await ctx.resources.http.post(ctx.settings.notify_url, json={"user": user_id})
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from arqkit.settings import QueueSettings

S = TypeVar("S", bound=QueueSettings)
R = TypeVar("R")

# Opened by each worker process at startup with its settings; what it yields is every job's `resources`.
WorkerLifespan = Callable[[S], AbstractAsyncContextManager[R]]


@dataclass(frozen=True, slots=True)
class JobContext(Generic[S, R]):
    """One try of one job: who it is, the worker's settings and resources, and the queue's Redis."""

    job_id: str
    job_try: int  # 1 on the first try
    queue: str
    settings: S
    resources: R
    # The worker's pool (arq's ArqRedis), typed Any: redis-py annotates its asyncio commands as returning
    # `Awaitable[T] | T`, which mypy will not await. Spell your own keys in a module of yours.
    redis: Any
    worker: dict[str, Any]  # arq's own ctx, for the machinery (throttle, concurrency_slot, progress)
