"""Every client on a `redis+sentinel://` URL: the worker and its `--check`, the operator CLI, and the job
client, which follows a switch of primary (SENTINEL FAILOVER demotes the old one) without a restart.

Sentinels and data nodes have passwords of their own. tests/e2e/test_sentinel_failover.py has the SIGKILL.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from devtools.redis_server import free_port
from jobs.core import QueueUnavailable, ReplicationTimeout
from jobs.core.client import JobQueue
from jobs.email import send_welcome_email
from jobs.registry import REGISTRY
from settings import Settings
from tests.support import BIN, ROOT, WorkerProcess, settings_env, wait_for
from tests.support.sentinel import SentinelCluster

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[SentinelCluster]:
    with SentinelCluster(tmp_path / "redis", replicas=1) as running:
        yield running


@pytest.fixture
def sentinel_settings(settings: Settings, cluster: SentinelCluster) -> Settings:
    return cluster.settings(settings)


@pytest.fixture
def worker(sentinel_settings: Settings, tmp_path: Path) -> Iterator[WorkerProcess]:
    process = WorkerProcess(sentinel_settings, tmp_path / "worker.log").start()
    yield process
    process.stop()


@pytest.fixture
async def queue(sentinel_settings: Settings) -> AsyncIterator[JobQueue]:
    job_queue = JobQueue.connect(sentinel_settings, REGISTRY)
    yield job_queue
    await job_queue.aclose()


def _run(settings: Settings, *command: str) -> subprocess.CompletedProcess[str]:
    env = settings_env(settings)
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)


async def _complete(queue: JobQueue, job_id: str) -> bool:
    return (await queue.status(job_id)).status == "complete"


async def test_worker_check_and_cli_reach_redis_through_the_sentinels(
    sentinel_settings: Settings, worker: WorkerProcess, queue: JobQueue
) -> None:
    enqueued = await queue.enqueue(send_welcome_email, email="ada@example.com", name="Ada")
    await wait_for(lambda: _complete(queue, enqueued.job_id), timeout=20, what="the job to complete")

    async def checked() -> bool:
        return _run(sentinel_settings, str(BIN / "arq"), "jobs.WorkerSettings", "--check").returncode == 0

    await wait_for(checked, timeout=20, interval=0.5, what="arq --check to pass")
    cli = _run(sentinel_settings, sys.executable, "-m", "jobs", "queues", "--json")
    assert cli.returncode == 0, cli.stderr
    assert '"priority": "default"' in cli.stdout


async def test_clients_follow_a_failover_without_a_restart(
    cluster: SentinelCluster, worker: WorkerProcess, queue: JobQueue
) -> None:
    before = await queue.enqueue(send_welcome_email, email="before@example.com", name="Before")
    await wait_for(lambda: _complete(queue, before.job_id), timeout=20, what="a job before the failover")
    old_primary = cluster.primary_port()

    cluster.fail_over()  # the old primary is demoted to a replica: writes to it would be READONLY
    await wait_for(
        lambda: asyncio.to_thread(lambda: cluster.primary_port() not in {None, old_primary}),
        timeout=30,
        what="a new primary",
    )

    async def accepted() -> str | None:
        try:
            return (await queue.enqueue(send_welcome_email, email="after@example.com", name="After")).job_id
        except (QueueUnavailable, ReplicationTimeout):
            return None

    after = await wait_for(accepted, timeout=20, interval=0.2, what="an enqueue on the new primary")
    await wait_for(lambda: _complete(queue, after), timeout=20, what="the worker to run it")
    assert worker.process is not None
    assert worker.process.poll() is None


def test_worker_check_fails_when_no_sentinel_answers(settings: Settings) -> None:
    url = f"redis+sentinel://127.0.0.1:{free_port()},127.0.0.1:{free_port()}/mymaster"
    check = _run(
        settings.model_copy(update={"redis_url": url}), str(BIN / "arq"), "jobs.WorkerSettings", "--check"
    )

    assert check.returncode != 0
    assert "No master found" in check.stdout + check.stderr
