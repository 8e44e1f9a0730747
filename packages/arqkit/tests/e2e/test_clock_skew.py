"""A worker whose clock is 90 s behind: it still looks alive to /readyz and still runs what is due at once,
because what machines compare is read from Redis's clock (arqkit/clock.py, lua/queue_head.lua)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio

from arqkit import JobQueue
from tests.service.jobs import charge
from tests.service.settings import Settings
from tests.support import PROCESS_START_SECONDS, WorkerProcess, wait_for, wait_for_status

SKEW_SECONDS = 90
# Loaded by the worker's interpreter before anything else: its time.time() (and so arq's timestamp_ms)
# runs 90 s behind. Its datetime.now() is the real one, as a machine's monotonic time would be.
SITECUSTOMIZE = f"""
import time
_real_time = time.time
time.time = lambda: _real_time() - {SKEW_SECONDS}
"""


@pytest.fixture
def late_worker(settings: Settings, tmp_path: Path) -> Iterator[WorkerProcess]:
    site = tmp_path / "skew"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    worker = WorkerProcess(settings, tmp_path / "late-worker.log", env={"PYTHONPATH": str(site)}).start()
    yield worker
    worker.stop()


async def test_a_worker_whose_clock_is_behind_is_ready_and_runs_due_jobs_at_once(
    late_worker: WorkerProcess,
    api: httpx.AsyncClient,
    job_queue: JobQueue,
    redis_client: redis.asyncio.Redis,
) -> None:
    async def ready() -> bool:
        return (await api.get("/readyz")).status_code == 200

    await wait_for(ready, timeout=PROCESS_START_SECONDS, what="/readyz with the late worker's heartbeat")
    job = await job_queue.enqueue(charge, charge_id="pay-skew", amount_cents=100, currency="EUR")

    status = await wait_for_status(api, job.job_id, {"complete"}, timeout=15)  # not 90 s late

    assert status["status"] == "complete"
