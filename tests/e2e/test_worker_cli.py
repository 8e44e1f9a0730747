"""`arq jobs.WorkerSettings --check`: exit 0 while a worker's health key is fresh, 1 without one."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import redis.asyncio

from jobs.core import keys
from settings import Settings
from tests.support import BIN, ROOT, WorkerProcess, settings_env, wait_for


def _check(settings: Settings) -> int:
    command = [str(BIN / "arq"), "jobs.WorkerSettings", "--check"]
    return subprocess.run(command, cwd=ROOT, env=settings_env(settings), capture_output=True).returncode


async def test_check_fails_without_a_running_worker(
    settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    assert _check(settings) == 1


async def test_check_passes_while_a_worker_runs_and_fails_after_it_stops(
    settings: Settings, redis_client: redis.asyncio.Redis, start_worker: Callable[..., WorkerProcess]
) -> None:
    worker = start_worker()
    await wait_for(
        lambda: redis_client.exists(keys.health_check(settings.queue_name)), timeout=20, what="health"
    )

    assert _check(settings) == 0
    worker.stop()
    assert _check(settings) == 1
