"""Crash and deploy safety with real worker processes: SIGKILL, SIGTERM, long jobs."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import redis.asyncio

from arqkit import keys
from tests.service.settings import Settings
from tests.support import WorkerProcess, wait_for, wait_for_status

StartWorker = Callable[..., WorkerProcess]


async def _report(api: httpx.AsyncClient) -> str:
    job_id: str = (await api.post("/long", json={"owner": 1, "label": "2026-02"})).json()["job_id"]
    return job_id


async def _ready(worker: WorkerProcess, api: httpx.AsyncClient, count: int) -> None:
    async def alive() -> bool:
        return bool((await api.get("/readyz")).json()["workers_alive"] >= count)

    await wait_for(alive, timeout=20, what=f"{count} live workers")


@pytest.fixture
def long_reports(settings: Settings) -> Settings:
    """Reports that run well past `crash_recovery_seconds` (3 s in tests)."""
    return settings.model_copy(update={"long_steps": 30, "long_step_seconds": 0.25})


@pytest.mark.latency
async def test_job_of_a_sigkilled_worker_runs_again_within_crash_recovery_seconds(
    api: httpx.AsyncClient, start_worker: StartWorker, long_reports: Settings
) -> None:
    doomed = start_worker(worker_settings=long_reports)
    job_id = await _report(api)
    await wait_for_status(api, job_id, {"in_progress"}, timeout=20)
    survivor = start_worker(worker_settings=long_reports)
    await _ready(survivor, api, 2)

    doomed.kill()
    killed_at = time.monotonic()

    async def running_again() -> dict[str, Any] | None:
        body: dict[str, Any] = (await api.get(f"/jobs/{job_id}")).json()
        return body if body["status"] == "in_progress" and body["try"] == 2 else None

    await wait_for(running_again, timeout=30, what="the job to run again")
    recovery = time.monotonic() - killed_at
    assert recovery < long_reports.crash_recovery_seconds + 2, f"took {recovery:.1f}s"
    done = await wait_for_status(api, job_id, {"complete", "failed"}, timeout=30)
    assert done["status"] == "complete"
    assert done["try"] == 2


async def test_long_job_on_a_live_worker_is_never_started_twice(
    api: httpx.AsyncClient, start_worker: StartWorker, long_reports: Settings
) -> None:
    start_worker(worker_settings=long_reports)
    start_worker(worker_settings=long_reports)
    job_id = await _report(api)

    done = await wait_for_status(api, job_id, {"complete", "failed"}, timeout=30)

    assert done["status"] == "complete"
    assert done["try"] == 1  # a second start would have counted a second try


async def test_sigterm_lets_a_running_job_finish_and_the_worker_exits_cleanly(
    api: httpx.AsyncClient, start_worker: StartWorker, settings: Settings
) -> None:
    worker = start_worker()  # reports take 2 s; job_completion_wait is 5 s in tests
    job_id = await _report(api)
    await wait_for_status(api, job_id, {"in_progress"}, timeout=20)

    worker.signal(signal.SIGTERM)

    assert worker.process is not None
    assert worker.process.wait(20) == 0
    done = (await api.get(f"/jobs/{job_id}")).json()
    assert done["status"] == "complete"
    assert done["try"] == 1


async def test_sigterm_requeues_a_job_it_must_cancel_without_using_a_try(
    api: httpx.AsyncClient, start_worker: StartWorker, long_reports: Settings
) -> None:
    impatient = long_reports.model_copy(update={"job_completion_wait_seconds": 1})
    worker = start_worker(worker_settings=impatient)
    job_id = await _report(api)
    await wait_for_status(api, job_id, {"in_progress"}, timeout=20)

    worker.signal(signal.SIGTERM)
    assert worker.process is not None
    worker.process.wait(20)

    requeued = (await api.get(f"/jobs/{job_id}")).json()
    assert requeued["status"] == "queued"
    assert requeued["try"] == 0
    start_worker(worker_settings=long_reports)
    done = await wait_for_status(api, job_id, {"complete", "failed"}, timeout=30)
    assert done["status"] == "complete"
    assert done["try"] == 1


@pytest.mark.latency
async def test_a_long_claim_of_ours_left_by_a_killed_worker_is_capped(
    api: httpx.AsyncClient, redis_client: redis.asyncio.Redis, worker: WorkerProcess, settings: Settings
) -> None:
    """A claim of ours (`<token>:<try>`, lua/claim.lua) longer than this worker's, e.g. from a worker
    with a longer CRASH_RECOVERY_SECONDS that was SIGKILLed. The heartbeat caps it, so the job runs
    within crash recovery. (arq's own claim, `1`, is never capped: tests/e2e/test_stock_arq.py.)"""
    job_id = await _report(api)
    await redis_client.psetex(keys.in_progress(job_id), 610_000, b"0123456789abcdef:1")  # then it died
    left_at = time.monotonic()

    done = await wait_for_status(api, job_id, {"complete", "failed"}, timeout=30)

    assert done["status"] == "complete"
    assert time.monotonic() - left_at < settings.crash_recovery_seconds + 5
