"""The service's fixtures: a redis-server of the suite's own (the testing kit's, `-p arqkit.testing` in
pyproject.toml; never the one on 6379), the mail sink over HTTP, the app on its lifespan, and a real
`arq jobs.WorkerSettings`. The machinery's own tests are the package's (packages/arqkit/tests)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from arqkit import Registry, WorkerLifespan, keys
from arqkit.redis_server import RedisServer, free_port
from arqkit.testing import JobKit, WorkerProcess, settings_for_tests, wait_for

from api.main import create_app
from devtools.http_service import http_service
from jobs.context import Resources, lifespan
from jobs.registry import REGISTRY
from settings import Settings
from tests.support import PROCESS_START_SECONDS, ROOT


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
    return settings_for_tests(
        Settings,
        redis_server,
        email_api_url=mail_sink_url + "/send",
        email_rate_limit="100000/second",
        report_steps=5,
        report_step_seconds=0.1,
        worker_heartbeat_seconds=1,
        redis_request_budget_seconds=5.0,  # a healthy Redis starved by the parallel suite is not a 503
        rate_limit_enabled=False,
    )


@pytest.fixture
async def api(settings: Settings, job_kit: JobKit) -> AsyncIterator[httpx.AsyncClient]:
    """`api.main.create_app` on its real lifespan, over an in-process ASGI transport; Redis emptied first
    (by `job_kit`, whose `queue.redis` a test reads Redis with)."""
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://t") as c,
    ):
        yield c


@pytest.fixture
async def worker(settings: Settings, tmp_path: Path, job_kit: JobKit) -> AsyncIterator[WorkerProcess]:
    """`arq jobs.WorkerSettings` as a real process, ready (its heartbeat is in Redis); stopped after."""
    process = WorkerProcess(settings, tmp_path / "worker.log", "jobs.WorkerSettings", cwd=ROOT).start()
    try:
        heartbeat = lambda: job_kit.queue.redis.zcard(keys.WORKERS)  # noqa: E731
        await wait_for(heartbeat, timeout=PROCESS_START_SECONDS, what="the worker's heartbeat")
        yield process
    finally:
        process.stop()


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
