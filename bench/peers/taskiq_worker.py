"""taskiq with taskiq-redis's `RedisStreamBroker`, as their docs show: `@broker.task`, `.kiq()`.

`taskiq worker bench.peers.taskiq_worker:broker --workers 1 --max-async-tasks 50`. Durable by default:
a message is acknowledged once the task has run (taskiq's default `--ack-type when_saved`); one left
unacknowledged by a dead worker is claimed by another after `idle_timeout` (10 minutes, its default).
"""

from __future__ import annotations

import asyncio

from taskiq_redis import RedisStreamBroker

from bench.peers.common import REDIS_URL, SLEEP_SECONDS, noop_job, record_start

broker = RedisStreamBroker(url=REDIS_URL)


@broker.task(task_name="noop")
async def noop() -> None:
    noop_job()


@broker.task(task_name="sleep")
async def sleep() -> None:
    record_start()
    await asyncio.sleep(SLEEP_SECONDS)


async def enqueue_noops(count: int) -> None:
    await broker.startup()
    for start in range(0, count, 200):
        await asyncio.gather(*(noop.kiq() for _ in range(min(200, count - start))))
    await broker.shutdown()


async def enqueue_sleep() -> None:
    await broker.startup()
    await sleep.kiq()
    await broker.shutdown()
