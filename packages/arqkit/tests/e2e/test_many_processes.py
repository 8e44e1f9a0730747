"""Many processes on one Redis: the API under `uvicorn --workers 3` and four worker processes.

What a single process would get right by accident must hold across processes: `/metrics` totals (each
process counts in memory and adds to one Redis hash, so any process answers for all), the rate limit
(one budget per client, not one per process), the Idempotency-Key (one job however many processes race
on it), cron (one run per tick) and delivery (a soak of 2,000 jobs: each runs exactly once).
The soak's larger sibling, with the throughput figures, is `bench/capacity.py`.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import redis.asyncio

from arqkit import Registry, keys
from arqkit.client import JobQueue
from tests.service import keys as app_keys
from tests.service.settings import Settings
from tests.support import (
    Sample,
    WorkerProcess,
    descendants,
    processes_holding_connections,
    scrape,
    serve_api_processes,
    value,
    wait_for,
)
from tests.support.workers import EXECUTIONS, TICKS, count_execution

API_PROCESSES = 3
WORKER_PROCESSES = 4
SOAK_JOBS = 2_000
CONNECTIONS = 8  # one client each, so requests are spread over connections the kernel spread over processes
RATE_LIMIT = 30  # per minute, for the producers
KEYS = {"rate": "key-for-the-rate-limit-check", "charge": "key-for-the-idempotency-check"}

pytestmark = pytest.mark.timeout(120)


@dataclass
class Deployment:
    clients: list[httpx.AsyncClient]
    serving_processes: set[int]
    workers: list[WorkerProcess]


@pytest.fixture
def deployment_settings(settings: Settings) -> Settings:
    digests = [hashlib.sha256(key.encode()).hexdigest() for key in KEYS.values()]
    return settings.model_copy(
        update={
            "rate_limit_enabled": True,
            "rate_limit_producers": f"{RATE_LIMIT}/minute",
            "api_keys": digests,
            "metrics_flush_seconds": 0.2,
            "long_steps": 1,
            "long_step_seconds": 0.0,
        }
    )


@pytest.fixture
def api_url(
    deployment_settings: Settings, tmp_path: Path, redis_client: redis.asyncio.Redis
) -> Iterator[tuple[str, int]]:
    with serve_api_processes(deployment_settings, tmp_path / "api.log", API_PROCESSES) as (url, uvicorn):
        yield url, uvicorn.pid


@pytest.fixture
async def deployment(
    api_url: tuple[str, int],
    deployment_settings: Settings,
    start_worker: Callable[..., WorkerProcess],
    redis_client: redis.asyncio.Redis,
) -> AsyncIterator[Deployment]:
    workers = [
        start_worker("tests.support.workers.ManyProcesses", deployment_settings)
        for _ in range(WORKER_PROCESSES)
    ]
    url, supervisor = api_url
    clients: list[httpx.AsyncClient] = []
    try:
        serving = await _spread_connections(url, supervisor, clients)
        await wait_for(
            lambda: _fresh_workers(redis_client, WORKER_PROCESSES), timeout=30, what="four worker heartbeats"
        )
        yield Deployment(clients, serving, workers)
    finally:
        for client in clients:
            await client.aclose()


async def _spread_connections(url: str, supervisor: int, clients: list[httpx.AsyncClient]) -> set[int]:
    """Open keep-alive connections until at least two API processes hold some; the kernel picks."""
    port = urlsplit(url).port
    assert port is not None
    for _ in range(10):
        for _ in range(CONNECTIONS):
            client = httpx.AsyncClient(base_url=url, limits=httpx.Limits(max_connections=1), timeout=10)
            assert (await client.get("/healthz")).status_code == 200
            clients.append(client)
        holders = processes_holding_connections(descendants(supervisor), port)
        if len(holders) >= 2:
            return holders
    raise AssertionError(f"every connection went to one API process: {holders}")


async def _fresh_workers(redis_client: redis.asyncio.Redis, count: int) -> bool:
    alive: int = await redis_client.zcard(keys.WORKERS)
    return alive >= count


async def test_processes_share_one_rate_limit_one_idempotency_key_and_one_set_of_metrics(
    deployment: Deployment, redis_client: redis.asyncio.Redis
) -> None:
    assert len(deployment.serving_processes) >= 2  # the requests below reach several API processes
    clients = deployment.clients

    async def report(i: int) -> int:
        response = await clients[i % len(clients)].post(
            "/long", json={"owner": 1, "label": "2026-01"}, headers={"X-API-Key": KEYS["rate"]}
        )
        return response.status_code

    async def charge(i: int) -> str:
        response = await clients[i % len(clients)].post(
            "/charges/pay-1",
            json={"amount_cents": 500, "currency": "EUR"},
            headers={"X-API-Key": KEYS["charge"], "Idempotency-Key": "order-1"},
        )
        assert response.status_code == 202, response.text
        job_id: str = response.json()["job_id"]
        return job_id

    statuses = await asyncio.gather(*(report(i) for i in range(2 * RATE_LIMIT)))
    charged = await asyncio.gather(*(charge(i) for i in range(20)))

    assert sorted(statuses) == [202] * RATE_LIMIT + [429] * RATE_LIMIT  # one budget, not one per process
    assert len(set(charged)) == 1  # one job for one key, whichever process answered
    await wait_for(lambda: redis_client.exists(app_keys.charge("pay-1")), what="the charge")

    counted = (("/long", "202"), ("/long", "429"), ("/charges/{charge_id}", "202"))

    def http_totals(samples: dict[Sample, float]) -> tuple[float, ...]:
        return tuple(
            value(samples, "http_requests_total", method="POST", route=route, status=status)
            for route, status in counted
        )

    expected = (RATE_LIMIT, RATE_LIMIT, 20)

    async def totals_seen_by_every_connection() -> bool:
        seen = {http_totals(await scrape(client)) for client in clients}
        return seen == {expected}

    await wait_for(totals_seen_by_every_connection, timeout=15, what=f"every scrape to show {expected}")


async def test_four_workers_run_each_of_2000_jobs_once_and_each_cron_tick_once(
    deployment: Deployment, deployment_settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    queue = JobQueue.connect(deployment_settings, Registry([count_execution]))
    try:
        enqueued = await asyncio.gather(*(queue.enqueue(count_execution, n=n) for n in range(SOAK_JOBS)))
    finally:
        await queue.aclose()

    async def all_ran() -> bool:
        ran: int = await redis_client.hlen(EXECUTIONS)  # type: ignore[misc]  # redis-py's union
        return ran >= SOAK_JOBS

    await wait_for(all_ran, timeout=60, interval=0.2, what=f"{SOAK_JOBS} jobs to run")
    runs: dict[bytes, bytes] = await redis_client.hgetall(EXECUTIONS)  # type: ignore[misc]
    assert set(runs) == {job.job_id.encode() for job in enqueued}
    duplicates = {job_id: count for job_id, count in runs.items() if count != b"1"}
    assert duplicates == {}

    async def three_ticks() -> bool:  # a cron every second, whether the soak took one second or ten
        return int(await redis_client.hlen(TICKS)) >= 3  # type: ignore[misc]  # redis-py's union

    await wait_for(three_ticks, timeout=15, interval=0.2, what="three cron ticks")
    ticks: dict[bytes, bytes] = await redis_client.hgetall(TICKS)  # type: ignore[misc]
    assert all(count == b"1" for count in ticks.values()), ticks  # four workers, each tick run once

    async def counted_by_every_connection() -> bool:
        seen = set()
        for client in deployment.clients:
            samples = await scrape(client)
            seen.add(
                (
                    value(samples, "jobs_started_total", function="count_execution", queue="default"),
                    value(samples, "jobs_completed_total", function="count_execution", queue="default"),
                )
            )
        return seen == {(SOAK_JOBS, SOAK_JOBS)}

    await wait_for(counted_by_every_connection, timeout=15, what="every scrape to count the soak")
    served = {worker.pid for worker in deployment.workers if "count_execution" in worker.log_text()}
    assert len(served) >= 2  # the jobs were spread over worker processes, not run by one
