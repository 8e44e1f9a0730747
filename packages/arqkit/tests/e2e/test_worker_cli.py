"""`arq <WorkerSettings> --check`: exit 0 while a worker's health key is fresh, 1 without one."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import redis.asyncio

from arqkit import keys
from arqkit.internals.worker import worker_host
from tests.service.settings import Settings
from tests.support import BIN, ROOT, WorkerProcess, settings_env, wait_for


def _check(settings: Settings, host: str | None = None) -> int:
    """`arq tests.service.worker.WorkerSettings --check`, run as in the pod named `host` (HOSTNAME)."""
    command = [str(BIN / "arq"), "tests.service.worker.WorkerSettings", "--check"]
    env = {**settings_env(settings), **({"HOSTNAME": host} if host else {})}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True).returncode


async def test_check_fails_without_a_running_worker(
    settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    assert _check(settings) == 1


async def test_check_passes_while_a_worker_runs_and_fails_after_it_stops(
    settings: Settings, redis_client: redis.asyncio.Redis, start_worker: Callable[..., WorkerProcess]
) -> None:
    worker = start_worker()
    await wait_for(
        lambda: redis_client.exists(keys.host_health_check(settings.queue_name, worker_host())),
        timeout=20,
        what="health",
    )

    assert _check(settings) == 0
    worker.stop()
    assert _check(settings) == 1


async def test_check_answers_for_the_worker_of_its_own_pod_not_for_the_pool(
    settings: Settings, redis_client: redis.asyncio.Redis, tmp_path: Path
) -> None:
    """A liveness probe restarts the pod whose worker is gone, even while the pool's other pods work:
    arq's own health key is one per queue, refreshed by any worker and deleted by the first that stops."""
    pods = {
        host: WorkerProcess(settings, tmp_path / f"{host}.log", env={"HOSTNAME": host}).start()
        for host in ("pod-a", "pod-b")
    }
    try:
        health = [keys.host_health_check(settings.queue_name, host) for host in pods]

        async def both_healthy() -> bool:
            return bool(await redis_client.exists(*health) == len(health))

        await wait_for(both_healthy, timeout=20, what="both pods' health")
        assert _check(settings, "pod-a") == 0

        pod_b = keys.host_health_check(settings.queue_name, "pod-b")
        pods["pod-a"].stop()
        written = await redis_client.get(pod_b)

        async def pod_b_wrote_again() -> bool:  # its health line carries the time: a new write differs
            return await redis_client.get(pod_b) not in (written, None)

        await wait_for(pod_b_wrote_again, timeout=15, what="pod-b's next health write")
        assert _check(settings, "pod-a") == 1
        assert _check(settings, "pod-b") == 0
    finally:
        for worker in pods.values():
            worker.stop()
