"""Every client on a `redis+sentinel://` URL: the worker and its `--check`, the operator CLI, and the job
client, which follows a switch of primary (SENTINEL FAILOVER demotes the old one) without a restart.

Sentinels and data nodes have passwords of their own; with TLS, both are reached over TLS only.
tests/e2e/test_sentinel_failover.py has the SIGKILL.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio

from arqkit import QueueUnavailable, keys
from arqkit.client import JobQueue
from arqkit.redis_server import free_port
from tests.service.jobs import notify
from tests.service.registry import REGISTRY
from tests.service.settings import Settings
from tests.support import BIN, ROOT, WorkerProcess, settings_env, wait_for
from tests.support.sentinel import SentinelCluster

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def cluster(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[SentinelCluster]:
    """Parametrize with `indirect=True`: True for TLS to sentinels and data nodes (rediss+sentinel://)."""
    tls = bool(getattr(request, "param", False))
    cluster = SentinelCluster(tmp_path / "redis", replicas=1, tls=tls)
    try:
        running = cluster.__enter__()
    except RuntimeError as error:
        if tls and "TLS support" in str(error):  # e.g. the embedded Valkey, built without TLS
            pytest.skip("this redis-server was built without TLS; the TLS case needs one built with it")
        raise
    try:
        yield running
    finally:
        cluster.__exit__(None, None, None)


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


@pytest.mark.parametrize("cluster", [False, True], indirect=True, ids=["plain", "tls"])
async def test_worker_check_and_cli_reach_redis_through_the_sentinels(
    sentinel_settings: Settings, worker: WorkerProcess, queue: JobQueue
) -> None:
    enqueued = await queue.enqueue(notify, email="ada@example.com", name="Ada")
    await wait_for(lambda: _complete(queue, enqueued.job_id), timeout=20, what="the job to complete")

    async def checked() -> bool:
        return (
            _run(
                sentinel_settings, str(BIN / "arq"), "tests.service.worker.WorkerSettings", "--check"
            ).returncode
            == 0
        )

    await wait_for(checked, timeout=20, interval=0.5, what="arq --check to pass")
    cli = _run(sentinel_settings, sys.executable, "-m", "tests.service", "queues", "--json")
    assert cli.returncode == 0, cli.stderr
    assert '"priority": "default"' in cli.stdout


async def test_clients_follow_a_failover_without_a_restart(
    cluster: SentinelCluster, queue: JobQueue, worker: WorkerProcess
) -> None:
    """The old primary stays up here, and the sentinels demote it only seconds after the switch: a pool
    that stayed on it would write where writes are about to be dropped (REDIS_MIN_REPLICAS=1 would turn
    those into 503s). The pool moves to the new primary by itself within REDIS_SENTINEL_RECHECK_SECONDS,
    before the old one is demoted; the worker follows too and runs the job."""
    before = await queue.enqueue(notify, email="before@example.com", name="Before")
    await wait_for(lambda: _complete(queue, before.job_id), timeout=20, what="a job before the failover")
    old_primary = cluster.primary_port()
    assert old_primary is not None

    cluster.fail_over()
    new_primary = await wait_for(
        lambda: asyncio.to_thread(_promoted, cluster, old_primary), timeout=30, what="a new primary"
    )
    new = redis.asyncio.Redis.from_url(cluster.node(new_primary).url)

    async def enqueued_on_the_new_primary() -> str | None:
        try:
            job_id = (await queue.enqueue(notify, email="after@example.com", name="After")).job_id
        except QueueUnavailable:  # a connection that was cut as the primary moved
            return None
        return job_id if await new.exists(keys.job(job_id), keys.result(job_id)) else None

    after = await wait_for(
        enqueued_on_the_new_primary, timeout=30, interval=0.2, what="a job on the new primary"
    )
    old = redis.asyncio.Redis.from_url(cluster.node(old_primary).url)
    assert (await old.info("replication"))["role"] == "master"  # not demoted yet: the pool moved itself
    await old.aclose()
    await wait_for(lambda: _complete(queue, after), timeout=20, what="the worker to run it")
    assert await new.zcard(keys.dead_letters_of(queue.settings.queue_name)) == 0
    await new.aclose()
    assert worker.process is not None
    assert worker.process.poll() is None


def _promoted(cluster: SentinelCluster, old_primary: int) -> int | None:
    port = cluster.primary_port()
    return port if port not in {None, old_primary} else None


def test_worker_check_fails_when_no_sentinel_answers(settings: Settings) -> None:
    url = f"redis+sentinel://127.0.0.1:{free_port()},127.0.0.1:{free_port()}/mymaster"
    check = _run(
        settings.model_copy(update={"redis_url": url}),
        str(BIN / "arq"),
        "tests.service.worker.WorkerSettings",
        "--check",
    )

    assert check.returncode != 0
    assert "No master found" in check.stdout + check.stderr
