"""What a worker costs and gives: idle Redis commands/s, pickup latency, no-op jobs/s.

Every measurement starts a worker process (`bench.procs.worker`) on an empty Redis and talks to it only
through Redis, as the API would.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import redis
import redis.asyncio
from arq.connections import ArqRedis
from arq.jobs import deserialize_result
from arqkit import Registry, keys
from arqkit.client import JobQueue
from arqkit.internals.connection import create_api_redis
from arqkit.serializer import deserialize

from bench.procs import worker
from bench.workers import NOOP, bench_noop
from jobs.registry import REGISTRY
from settings import Settings

RESULT_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class WorkerRun:
    """How to start one variant, and whether its jobs go through the template's enqueue (with wake-up)."""

    target: str
    env: Mapping[str, str]
    template_enqueue: bool


def command_counts(client: redis.Redis) -> dict[str, int]:
    """INFO commandstats: calls per command so far (commands a Lua script runs are counted too)."""
    stats: dict[str, dict[str, int]] = client.info("commandstats")  # type: ignore[assignment]
    return {name.removeprefix("cmdstat_"): int(values["calls"]) for name, values in stats.items()}


def idle_commands_per_second(client: redis.Redis, seconds: float) -> tuple[float, dict[str, float]]:
    """Commands/s Redis serves while the worker sits idle (our own INFO calls subtracted)."""
    before = command_counts(client)
    time.sleep(seconds)
    after = command_counts(client)
    per_command = {k: (v - before.get(k, 0)) / seconds for k, v in after.items() if v != before.get(k, 0)}
    per_command["info"] = per_command.get("info", 0) - 1 / seconds
    per_command = {k: v for k, v in per_command.items() if v > 0}
    return sum(per_command.values()), per_command


def measure_idle_and_pickup(
    redis_url: str, run: WorkerRun, samples: int, idle_seconds: float
) -> tuple[float, dict[str, float], list[float]]:
    """(idle commands/s, per command, pickup latencies in ms): enqueue one job at a time to an idle worker."""
    client = redis.Redis.from_url(redis_url)
    client.flushall()
    with worker(redis_url, run.target, run.env):
        time.sleep(min(1.0, idle_seconds))  # let start-up traffic settle
        idle, per_command = idle_commands_per_second(client, idle_seconds)
        latencies = asyncio.run(_pickups(redis_url, run.template_enqueue, samples))
    client.close()
    return idle, per_command, latencies


async def _pickups(redis_url: str, template_enqueue: bool, samples: int) -> list[float]:
    settings = Settings(redis_url=redis_url)
    pool = create_api_redis(settings)
    queue = JobQueue(pool, settings, Registry([*REGISTRY, bench_noop]))
    latencies = []
    try:
        for _ in range(samples):
            # Longer than arq's default poll_delay (0.5 s): a polling worker is met at every phase.
            await asyncio.sleep(random.uniform(0.02, 0.52))
            enqueued_at = time.time()
            if template_enqueue:
                job_id = (await queue.enqueue(bench_noop)).job_id
            else:
                job = await pool.enqueue_job(NOOP)
                assert job is not None  # a fresh random id
                job_id = job.job_id
            started_at = await _result(pool, job_id)
            latencies.append((started_at - enqueued_at) * 1000)
    finally:
        await pool.aclose()
    return latencies


async def _result(pool: ArqRedis, job_id: str) -> float:
    deadline = time.monotonic() + RESULT_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        raw = await pool.get(keys.result(job_id))
        if raw is not None:
            return float(deserialize_result(raw, deserializer=deserialize).result)
        await asyncio.sleep(0.002)
    raise RuntimeError(f"job {job_id} did not finish within {RESULT_TIMEOUT_SECONDS}s")


# Every queued job due now at once, and a wake-up token as an enqueue would push: read once.
_ALL_DUE_NOW = (Path(__file__).parent / "all_due_now.lua").read_text()


def measure_throughput(redis_url: str, run: WorkerRun, jobs: int) -> float:
    """No-op jobs/s: `jobs` queued for later, then all made due at once; timed until the queue is empty."""
    client = redis.Redis.from_url(redis_url)
    client.flushall()
    with worker(redis_url, run.target, run.env):
        asyncio.run(_fill(redis_url, jobs))
        queue_name = Settings(redis_url=redis_url).queue_name
        started = time.perf_counter()
        client.eval(_ALL_DUE_NOW, 2, queue_name, keys.wake(queue_name), str(int(time.time() * 1000)))
        while client.zcard(queue_name):
            time.sleep(0.005)
        elapsed = time.perf_counter() - started
    client.close()
    return jobs / elapsed


async def _fill(redis_url: str, jobs: int) -> None:
    settings = Settings(redis_url=redis_url)
    pool = create_api_redis(settings)
    queue = JobQueue(pool, settings, Registry([*REGISTRY, bench_noop]))
    later = queue.with_options(defer_by=timedelta(hours=1))
    try:
        for start in range(0, jobs, 200):
            await asyncio.gather(*(later.enqueue(bench_noop) for _ in range(min(200, jobs - start))))
    finally:
        await pool.aclose()
