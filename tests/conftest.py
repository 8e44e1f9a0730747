"""Shared fixtures: a real redis-server of the suite's own (never the one on 6379), the real mail sink
over HTTP, the app on its lifespan, and real worker processes."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio
from arqkit import Registry, WorkerLifespan, keys
from arqkit.client import JobQueue
from arqkit.redis_server import RedisServer, free_port

from api.main import create_app
from devtools.http_service import http_service
from jobs.context import Resources, lifespan
from jobs.registry import REGISTRY
from settings import Settings
from tests.support import PROCESS_START_SECONDS, WorkerProcess, wait_for
from tests.support.workers import sleeps_on_its_only_try

# How long a request may wait on Redis. Production's 1 s is for a frozen Redis; on a busy machine (the suite
# runs in parallel) a healthy one can be starved that long. The tests of the budget set their own.
TEST_REDIS_BUDGET_SECONDS = 5.0

# The testing kit (`job_kit`) and its `redis_server`: the suite uses them as a team would.
pytest_plugins = ["arqkit.testing"]


@pytest.fixture(scope="session")
def mail_sink_url() -> Iterator[str]:
    port = free_port()
    with http_service([sys.executable, "-m", "devtools.mailsink", "--port", str(port)], port) as url:
        yield url


@pytest.fixture
async def sink(mail_sink_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The mail sink's control API, emptied before each test."""
    async with httpx.AsyncClient(base_url=mail_sink_url) as client:
        await client.post("/_control/reset")
        yield client


@pytest.fixture
def settings(redis_server: RedisServer, mail_sink_url: str) -> Settings:
    return Settings(
        environment="test",
        redis_url=redis_server.url,
        email_api_url=mail_sink_url + "/send",
        admin_token="test-admin-token",
        report_steps=20,
        report_step_seconds=0.1,
        retry_base_delay_seconds=0.05,
        retry_max_delay_seconds=0.2,
        worker_heartbeat_seconds=1,
        crash_recovery_seconds=3,
        redis_request_budget_seconds=TEST_REDIS_BUDGET_SECONDS,
        job_completion_wait_seconds=5,
        # Traffic control off or out of reach; tests/api/test_rate_limit.py and friends set their own.
        rate_limit_enabled=False,
        email_rate_limit="100000/second",
        report_max_concurrency=10_000,
    )


@pytest.fixture
async def redis_client(settings: Settings) -> AsyncIterator[redis.asyncio.Redis]:
    """A raw client on the suite's Redis, flushed before each test."""
    client = redis.asyncio.Redis.from_url(settings.redis_url)
    await client.flushall()
    yield client
    await client.aclose()


@pytest.fixture
async def api(settings: Settings, redis_client: redis.asyncio.Redis) -> AsyncIterator[httpx.AsyncClient]:
    """The app on its real lifespan, over an in-process ASGI transport."""
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

    def start(target: str = "jobs.WorkerSettings", worker_settings: Settings | None = None) -> WorkerProcess:
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
    """The typed client on a pool of its own, as the API uses it (no HTTP, so no rate limit in the way),
    its registry the example jobs and the test job the suite's workers also run."""
    queue = JobQueue.connect(settings, Registry([*REGISTRY, sleeps_on_its_only_try]))
    yield queue
    await queue.aclose()


@pytest.fixture
def job_settings(settings: Settings) -> Settings:
    """The kit's worker runs with the suite's settings (its Redis, the mail sink, fast retries)."""
    return settings


@pytest.fixture
def job_registry() -> Registry:
    return REGISTRY


@pytest.fixture
def job_lifespan() -> WorkerLifespan[Settings, Resources]:
    return lifespan
