"""Redis away: the API answers 503 fast and recovers by itself; the worker rides out the restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest

from arqkit.internals.connection import create_api_redis
from arqkit.redis_server import RedisServer
from tests.service.app import create_app
from tests.service.settings import Settings
from tests.support import PROCESS_START_SECONDS, WorkerProcess, scrape, value, wait_for, wait_for_status


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A Redis this module may stop and restart (AOF on, as in compose.yaml)."""
    with RedisServer(appendonly=True) as server:
        yield server


@pytest.fixture
def outage_settings(settings: Settings, own_redis: RedisServer) -> Settings:
    return settings.model_copy(update={"redis_url": own_redis.url})


@pytest.fixture
async def outage_api(outage_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(outage_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@pytest.mark.latency
async def test_enqueue_with_redis_down_answers_503_within_2_seconds(
    outage_api: httpx.AsyncClient, own_redis: RedisServer
) -> None:
    own_redis.stop()

    started = time.monotonic()
    response = await outage_api.post("/notify", json={"email": "a@example.com", "name": "A"})
    elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert response.json()["detail"]
    assert response.headers["retry-after"] == "1"
    assert elapsed < 2, f"took {elapsed:.2f}s"


async def test_status_with_redis_down_answers_503_not_500(
    outage_api: httpx.AsyncClient, own_redis: RedisServer
) -> None:
    own_redis.stop()

    response = await outage_api.get("/jobs/some-job")

    assert response.status_code == 503


@pytest.mark.latency
async def test_metrics_with_redis_down_answer_200_with_redis_up_0_and_the_process_metrics(
    outage_api: httpx.AsyncClient, own_redis: RedisServer
) -> None:
    """Finding 10: `/metrics` answered 503 while Redis was down, so an outage hid its own numbers."""
    assert value(await scrape(outage_api), "redis_up") == 1
    own_redis.stop()

    started = time.monotonic()
    samples = await scrape(outage_api)  # asserts the 200
    elapsed = time.monotonic() - started

    assert value(samples, "redis_up") == 0
    assert value(samples, "process_resident_memory_bytes") > 0
    assert value(samples, "process_cpu_seconds_total") > 0
    assert any(name == "python_info" for name, _ in samples)
    assert elapsed < 2, f"took {elapsed:.2f}s"


async def test_readyz_is_503_while_redis_is_stopped_and_200_once_it_returns(
    outage_api: httpx.AsyncClient,
    own_redis: RedisServer,
    outage_settings: Settings,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    worker = start_worker(worker_settings=outage_settings)

    async def ready() -> bool:
        return (await outage_api.get("/readyz")).status_code == 200

    await wait_for(ready, timeout=PROCESS_START_SECONDS, what="ready with a worker")
    own_redis.stop()

    down = await outage_api.get("/readyz")
    assert down.status_code == 503
    assert down.json()["reasons"] == ["redis does not answer"]

    own_redis.start()
    await wait_for(ready, timeout=30, what="ready again after Redis returned")
    assert worker.process is not None
    assert worker.process.poll() is None, "the worker exited"
    job_id = (await outage_api.post("/notify", json={"email": "b@example.com", "name": "B"})).json()["job_id"]
    assert (await wait_for_status(outage_api, job_id, {"complete"}, timeout=20))["status"] == "complete"


async def test_jobs_accepted_before_a_redis_restart_still_run_after_it(
    outage_api: httpx.AsyncClient,
    own_redis: RedisServer,
    outage_settings: Settings,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    accepted = [
        (await outage_api.post("/notify", json={"email": f"u{i}@example.com", "name": "U"})).json()["job_id"]
        for i in range(20)
    ]

    own_redis.restart()  # AOF on: what was acknowledged survives
    start_worker(worker_settings=outage_settings)

    for job_id in accepted:
        assert (await wait_for_status(outage_api, job_id, {"complete"}, timeout=30))["status"] == "complete"


async def test_a_busy_worker_rides_out_redis_restarts_and_finishes_every_job(
    outage_api: httpx.AsyncClient,
    own_redis: RedisServer,
    outage_settings: Settings,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    """Redis goes away while the worker is claiming, running and finishing jobs: it must not exit."""
    worker = start_worker(worker_settings=outage_settings)
    pool = create_api_redis(outage_settings)
    accepted: list[str] = []
    for _ in range(3):
        for i in range(300):
            job = await pool.enqueue_job("notify", email=f"u{i}@example.com", name="U")
            assert job is not None
            accepted.append(job.job_id)
        await wait_for_status(outage_api, accepted[-300], {"complete"}, timeout=30)  # the worker is busy
        own_redis.stop()
        await asyncio.sleep(1)  # the outage itself
        own_redis.start()
    await pool.aclose()

    for job_id in accepted:
        assert (await wait_for_status(outage_api, job_id, {"complete"}, timeout=60))["status"] == "complete"
    assert worker.process is not None
    assert worker.process.poll() is None, "the worker exited"
