"""taskiq as in `taskiq_worker.py`, plus taskiq-redis's `RedisAsyncResultBackend`: the same promise as the
template's, a result and status a client can poll by the task's id. Results are kept for a day
(`result_ex_time`), as the template keeps its (`KEEP_RESULT_SECONDS`).

`taskiq worker bench.peers.taskiq_results_worker:broker --workers 1 --max-async-tasks 50`.
"""

from __future__ import annotations

import asyncio

from taskiq_redis import RedisAsyncResultBackend, RedisStreamBroker

from bench.peers.common import REDIS_URL, SLEEP_SECONDS, noop_job, record_start

KEEP_RESULT_SECONDS = 86_400

broker = RedisStreamBroker(url=REDIS_URL).with_result_backend(
    RedisAsyncResultBackend(redis_url=REDIS_URL, result_ex_time=KEEP_RESULT_SECONDS)
)


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
