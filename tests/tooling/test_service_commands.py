"""The service's own commands, with whatever jobs its registry holds (none at all included): a worker
`arq jobs.WorkerSettings` that the API sees as ready, its `--check`, and `python -m jobs`."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import httpx
from arqkit.testing import WorkerProcess, settings_env, wait_for

from settings import Settings
from tests.support import ROOT


def _run(settings: Settings, *command: str) -> subprocess.CompletedProcess[str]:
    env = settings_env(settings)
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


async def test_a_running_worker_makes_the_api_ready(api: httpx.AsyncClient, worker: WorkerProcess) -> None:
    response = await api.get("/readyz")

    assert response.status_code == 200, response.text


async def test_the_worker_health_check_passes_while_it_runs(
    settings: Settings, worker: WorkerProcess
) -> None:
    async def passes() -> bool:
        arq = str(Path(sys.executable).parent / "arq")
        done = await asyncio.to_thread(_run, settings, arq, "jobs.WorkerSettings", "--check")
        return done.returncode == 0

    await wait_for(passes, timeout=20, what="`arq jobs.WorkerSettings --check` to pass")


async def test_the_operator_cli_lists_every_queue_and_its_worker(
    settings: Settings, worker: WorkerProcess
) -> None:
    done = _run(settings, sys.executable, "-m", "jobs", "queues", "--json")

    assert done.returncode == 0, done.stderr
    queues = {queue["priority"]: queue for queue in json.loads(done.stdout)}
    assert set(queues) == {"default", "critical", "bulk"}
    assert queues["default"]["workers_alive"] == 1
