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

A plain `def` job runs in a thread (or a process) and receives a `SyncJobContext` instead: no asyncio
Redis (it belongs to the worker's event loop), a blocking `report_progress`, and `cancelled`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from redis import Redis as SyncRedis

from arqkit import keys
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


@dataclass(frozen=True)
class SyncJobContext(Generic[S, R]):
    """One try of a plain `def` job, which runs in a worker thread (or, `executor="process"`, a process).

    `resources` are the worker lifespan's (None in a process: they stay in the worker). A thread cannot be
    stopped from outside: after a timeout, an abort or a shutdown the job's try is over but its thread runs
    on; `cancelled` is set then, so a long job can check it between steps and return.
    """

    job_id: str
    job_try: int  # 1 on the first try
    queue: str
    settings: S
    resources: R
    cancelled: threading.Event = field(default_factory=threading.Event, compare=False)

    def report_progress(self, fraction: float) -> None:
        """Record how far the job is, from 0.0 to 1.0 (`GET /jobs/{id}` shows it): one blocking write."""
        value = min(1.0, max(0.0, fraction))
        _sync_redis(self.settings).hset(keys.job_meta(self.job_id), "progress", f"{value:.4f}")


_SYNC_CLIENTS: dict[str, SyncRedis] = {}  # one blocking client per Redis URL in a process (thread-safe)
_SYNC_CLIENTS_LOCK = threading.Lock()


def _sync_redis(settings: QueueSettings) -> SyncRedis:
    from arqkit.internals.connection import create_sync_redis  # the door to redis-py, opened when used

    with _SYNC_CLIENTS_LOCK:
        client = _SYNC_CLIENTS.get(settings.redis_url)
        if client is None:
            client = _SYNC_CLIENTS[settings.redis_url] = create_sync_redis(settings)
        return client
