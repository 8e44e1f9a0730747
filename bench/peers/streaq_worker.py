"""streaq, as its docs show: a `Worker`, tasks registered with `@worker.task`, `async with worker` to
enqueue. `streaq run bench.peers.streaq_worker:worker` (concurrency 50). JSON instead of its default
pickle. Durable by default: a task whose worker stops renewing it is re-enqueued after `idle_timeout`
(60 s, its default).
"""

from __future__ import annotations

import asyncio
import json

from streaq import Worker

from bench.peers.common import REDIS_URL, SLEEP_SECONDS, noop_job, record_start

worker = Worker(redis_url=REDIS_URL, concurrency=50, serializer=json.dumps, deserializer=json.loads)


@worker.task()
async def noop() -> None:
    noop_job()


@worker.task(timeout=None)
async def sleep() -> None:
    record_start()
    await asyncio.sleep(SLEEP_SECONDS)


async def enqueue_noops(count: int) -> None:
    async with worker:
        for start in range(0, count, 200):
            await asyncio.gather(*(noop.enqueue() for _ in range(min(200, count - start))))


async def enqueue_sleep() -> None:
    async with worker:
        await sleep.enqueue()
