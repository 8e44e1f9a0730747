"""A worker whose Redis is unreachable keeps retrying, says so once when the outage starts and once when
it ends, and still stops within seconds of SIGTERM or SIGINT; `--check` answers at once."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest

from arqkit.redis_server import RedisServer, free_port
from tests.service.settings import Settings
from tests.support import BIN, ROOT, WorkerProcess, settings_env, wait_for

STOP_SECONDS = 8.0
OUTAGE_STARTED = "redis unreachable"
OUTAGE_ENDED = "redis reachable again"


@pytest.fixture
def nowhere(settings: Settings) -> Settings:
    """Settings whose Redis is a port nothing listens on."""
    return settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


async def _log_says(worker: WorkerProcess, text: str, timeout: float = 15) -> None:
    async def probe() -> bool:
        return text in worker.log_text()

    await wait_for(probe, timeout=timeout, interval=0.1, what=f"{text!r} in the worker log")


async def _exits_within(worker: WorkerProcess, seconds: float) -> int:
    assert worker.process is not None
    started = time.monotonic()
    while worker.process.poll() is None:
        assert time.monotonic() - started < seconds, f"the worker still runs {seconds}s after the signal"
        await asyncio.sleep(0.05)
    return worker.process.returncode


@pytest.mark.latency
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_worker_started_without_redis_stops_within_seconds_of_a_signal(
    nowhere: Settings, start_worker: Callable[..., WorkerProcess], signum: int
) -> None:
    worker = start_worker(worker_settings=nowhere)
    await _log_says(worker, "Starting worker")  # arq's line; then its first Redis call waits for Redis

    worker.signal(signum)

    await _exits_within(worker, STOP_SECONDS)


@pytest.mark.latency
async def test_a_worker_whose_redis_goes_away_stops_within_seconds_of_sigterm(
    settings: Settings, own_redis: RedisServer, start_worker: Callable[..., WorkerProcess]
) -> None:
    worker = start_worker(worker_settings=settings.model_copy(update={"redis_url": own_redis.url}))
    await _log_says(worker, "worker started")
    own_redis.stop()
    await _log_says(worker, OUTAGE_STARTED)

    worker.signal(signal.SIGTERM)

    await _exits_within(worker, STOP_SECONDS)


async def test_a_worker_logs_an_outage_once_as_it_starts_and_once_as_it_ends(
    settings: Settings, start_worker: Callable[..., WorkerProcess]
) -> None:
    port = free_port()
    worker = start_worker(
        worker_settings=settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{port}/0"})
    )
    await _log_says(worker, OUTAGE_STARTED)
    await asyncio.sleep(3)  # the outage goes on: several more failed attempts, not several more lines

    with RedisServer(port=port):
        await _log_says(worker, "worker started")
        await _log_says(worker, OUTAGE_ENDED)

        assert worker.log_text().count(OUTAGE_STARTED) == 1
        assert worker.log_text().count(OUTAGE_ENDED) == 1
        assert worker.process is not None
        assert worker.process.poll() is None
        worker.stop()


@pytest.mark.latency
def test_check_with_redis_unreachable_fails_within_seconds(nowhere: Settings) -> None:
    """Timed beyond the interpreter's start and the worker module's imports, measured just before (on a
    busy machine they alone take seconds): what is left is the check's own wait on Redis."""
    env = settings_env(nowhere)
    started = time.monotonic()
    imports = [str(BIN / "python"), "-c", "import arq.cli, tests.service.worker"]
    subprocess.run(imports, cwd=ROOT, env=env, capture_output=True, timeout=60, check=True)
    start_cost = time.monotonic() - started
    command = [str(BIN / "arq"), "tests.service.worker.WorkerSettings", "--check"]
    started = time.monotonic()
    try:
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("`arq --check` still runs after 30 s with Redis unreachable")

    assert done.returncode != 0
    assert time.monotonic() - started - start_cost < 5
