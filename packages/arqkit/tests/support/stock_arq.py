"""A stock arq worker, as another team runs it beside ours: arq and the standard library only, no template
code. `arq tests.support.stock_arq.StockWorker`, on the Redis at `REDIS_URL`, the default queue.

Its functions share their names with template jobs (`notify`) or test jobs
(`tests/support/workers.py`'s `waits_for_release`), so either fleet can run what the other enqueued.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from arq.connections import RedisSettings

RUNS = "svc:test:runs"  # hash: job id -> how many times any worker started it
RELEASE = "svc:test:release"  # present: every `waits_for_release` run returns


def dumps(value: dict[str, Any]) -> bytes:
    """The JSON a stock arq client or worker passes as `job_serializer` (arq wants bytes); an exception
    result is stored as its repr."""
    return json.dumps(value, default=repr).encode()


async def notify(ctx: dict[str, Any], email: str, name: str) -> str:
    return f"stock worker greeted {name} <{email}>"


async def waits_for_release(ctx: dict[str, Any], tag: str) -> str:
    """Counts its start, then runs until the test sets `RELEASE`."""
    await ctx["redis"].hincrby(RUNS, ctx["job_id"], 1)
    while not await ctx["redis"].exists(RELEASE):
        await asyncio.sleep(0.05)
    return f"stock:{tag}"


class StockWorker:
    functions = (notify, waits_for_release)
    redis_settings = RedisSettings.from_dsn(os.environ.get("REDIS_URL", "redis://localhost:6379"))
    job_serializer = dumps
    job_deserializer = json.loads
    poll_delay = 0.05
