"""Shared fixtures: a real redis-server of the tests' own (never the one on 6379), the HTTP sink the
`notify` job posts to, the fixture service's app on its lifespan, and its real worker processes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio

from arqkit import Registry, WorkerLifespan, keys
from arqkit.client import JobQueue
from arqkit.redis_server import RedisServer
from arqkit.testing import settings_for_tests
from tests.service.app import create_app
from tests.service.context import Resources, lifespan
from tests.service.registry import REGISTRY
from tests.service.settings import Settings
from tests.support import PROCESS_START_SECONDS, SERVICE_WORKER, WorkerProcess, wait_for
from tests.support.sink import serve_sink
from tests.support.workers import sleeps_on_its_only_try

# How long a request may wait on Redis. Production's 1 s is for a frozen Redis; on a busy machine (the suite
# runs in parallel) a healthy one can be starved that long. The tests of the budget set their own.
TEST_REDIS_BUDGET_SECONDS = 5.0

# The testing kit's fixtures (`job_kit`, `redis_server`) come from `-p arqkit.testing` (pyproject.toml):
# loaded before this file imports the kit's helpers, so pytest rewrites its asserts.


@pytest.fixture(scope="session")
def sink_url() -> Iterator[str]:
    with serve_sink() as url:
        yield url


@pytest.fixture
async def sink(sink_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The sink's control API, emptied before each test."""
    async with httpx.AsyncClient(base_url=sink_url) as client:
        await client.post("/_control/reset")
        yield client


@pytest.fixture
def settings(redis_server: RedisServer, sink_url: str) -> Settings:
    """Traffic control off or out of reach (web/test_rate_limit.py and friends set their own); short
    heartbeats and crash recovery, a `long_task` of 2 s."""
    return settings_for_tests(
        Settings,
        redis_server,
        sink_url=sink_url + "/send",
        notify_rate_limit="100000/second",
        long_steps=20,
        long_step_seconds=0.1,
        long_max_concurrency=10_000,
        admin_token="test-admin-token",
        rate_limit_enabled=False,
        worker_heartbeat_seconds=1,
        crash_recovery_seconds=3,
        redis_request_budget_seconds=TEST_REDIS_BUDGET_SECONDS,
        job_completion_wait_seconds=5,
    )


@pytest.fixture
async def redis_client(settings: Settings) -> AsyncIterator[redis.asyncio.Redis]:
    """A raw client on the tests' Redis, flushed before each test."""
    client = redis.asyncio.Redis.from_url(settings.redis_url)
    await client.flushall()
    yield client
    await client.aclose()


@pytest.fixture
async def api(settings: Settings, redis_client: redis.asyncio.Redis) -> AsyncIterator[httpx.AsyncClient]:
    """The fixture service's app on its real lifespan, over an in-process ASGI transport."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@pytest.fixture
def start_worker(
    settings: Settings, tmp_path: Path, redis_client: redis.asyncio.Redis
) -> Iterator[Callable[..., WorkerProcess]]:
    """Start real `arq` worker processes; each is stopped (SIGTERM) after the test."""
    started: list[WorkerProcess] = []

    def start(target: str = SERVICE_WORKER, worker_settings: Settings | None = None) -> WorkerProcess:
        log_path = tmp_path / f"worker-{len(started)}.log"
        worker = WorkerProcess(worker_settings or settings, log_path, target).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
async def worker(
    start_worker: Callable[..., WorkerProcess], redis_client: redis.asyncio.Redis
) -> WorkerProcess:
    """One running worker, ready (its heartbeat is in Redis)."""
    process = start_worker()
    await wait_for(
        lambda: redis_client.zcard(keys.WORKERS), timeout=PROCESS_START_SECONDS, what="worker heartbeat"
    )
    return process


@pytest.fixture
async def job_queue(settings: Settings, redis_client: redis.asyncio.Redis) -> AsyncIterator[JobQueue]:
    """The typed client on a pool of its own, as the API uses it (no HTTP, so no rate limit in the way);
    its registry the service's jobs and the test job the suite's workers also run."""
    queue = JobQueue.connect(settings, Registry([*REGISTRY, sleeps_on_its_only_try]))
    yield queue
    await queue.aclose()


@pytest.fixture
def job_settings(settings: Settings) -> Settings:
    """The kit's worker runs with the tests' settings (their Redis, the sink, fast retries)."""
    return settings


@pytest.fixture
def job_registry() -> Registry:
    return REGISTRY


@pytest.fixture
def job_lifespan() -> WorkerLifespan[Settings, Resources]:
    return lifespan
