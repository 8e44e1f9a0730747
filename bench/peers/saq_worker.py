"""saq, as its docs show: a `Queue.from_url`, async functions taking `ctx`, a settings dict.

`saq bench.peers.saq_worker.settings` (concurrency 50, as the template's `WORKER_MAX_JOBS`). Durable as
far as saq goes: a job that a dead worker left active is swept once past its `timeout` (saq's default,
10 s from its start) by the sweep that runs every 60 s, and re-run if it has tries left, so the crash
job is enqueued with `retries=2` (saq's default of 1 try would drop it).
"""

from __future__ import annotations

import asyncio
from typing import Any

from saq import Queue

from bench.peers.common import REDIS_URL, SLEEP_SECONDS, noop_job, record_start

queue = Queue.from_url(REDIS_URL)


async def noop(ctx: dict[str, Any]) -> None:
    noop_job()


async def sleep(ctx: dict[str, Any]) -> None:
    record_start()
    await asyncio.sleep(SLEEP_SECONDS)


settings = {"queue": queue, "functions": [noop, sleep], "concurrency": 50}


async def enqueue_noops(count: int) -> None:
    await queue.connect()
    for start in range(0, count, 200):
        await asyncio.gather(*(queue.enqueue("noop") for _ in range(min(200, count - start))))


async def enqueue_sleep() -> None:
    await queue.connect()
    await queue.enqueue("sleep", retries=2)
