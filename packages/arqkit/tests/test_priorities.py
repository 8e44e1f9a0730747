"""Priorities: critical, default and bulk queues, each with its own workers; status finds a job in any."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime

import httpx
import pytest
import redis.asyncio
from arq.worker import Worker

import tests.service.worker as service
from arqkit import Registry, keys
from arqkit.client import JobQueue
from arqkit.priorities import Priority, all_queue_names, queue_name
from tests.service.jobs import charge, long_task
from tests.service.registry import REGISTRY
from tests.service.settings import Settings
from tests.support import PROCESS_START_SECONDS, WorkerProcess, wait_for, wait_for_status
from tests.support.workers import bulk_work

BACKLOG = 500


@pytest.fixture
async def queue(settings: Settings, redis_client: redis.asyncio.Redis) -> AsyncIterator[JobQueue]:
    queue = JobQueue.connect(settings, Registry([*REGISTRY, bulk_work]))
    yield queue
    await queue.aclose()


def test_default_workers_keep_arqs_default_queue_name() -> None:
    assert service.WorkerSettings.queue_name == "arq:queue"
    assert service.CriticalWorkerSettings.queue_name == "arq:queue:critical"
    assert service.BulkWorkerSettings.queue_name == "arq:queue:bulk"


@pytest.mark.parametrize("name", ["CriticalWorkerSettings", "BulkWorkerSettings"])
def test_priority_workers_pass_arq_only_settings_it_accepts_in_the_class_dict(name: str) -> None:
    worker_settings = getattr(service, name)
    ours = {k for k in vars(worker_settings) if not k.startswith("__")}

    assert ours <= set(inspect.signature(Worker).parameters)
    assert worker_settings.__dict__["ctx"]["queue_name"] == worker_settings.queue_name


def test_cron_jobs_run_on_the_default_workers_only() -> None:
    assert service.WorkerSettings.cron_jobs
    assert service.CriticalWorkerSettings.cron_jobs == []
    assert service.BulkWorkerSettings.cron_jobs == []


def test_every_queue_derives_from_the_queue_name_setting(settings: Settings) -> None:
    renamed = settings.model_copy(update={"queue_name": "shop:queue"})

    assert all_queue_names(renamed) == ["shop:queue:critical", "shop:queue", "shop:queue:bulk"]


async def test_a_job_goes_to_the_queue_its_definition_declares(
    queue: JobQueue, settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    job = await queue.enqueue(bulk_work, seconds=0)

    assert await redis_client.zscore(queue_name(settings, "bulk"), job.job_id) is not None


async def test_the_enqueue_may_choose_another_queue(
    queue: JobQueue, settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    job = await queue.with_options(priority="critical").enqueue(bulk_work, seconds=0)

    assert await redis_client.zscore(queue_name(settings, "critical"), job.job_id) is not None
    assert await redis_client.zscore(queue_name(settings, "bulk"), job.job_id) is None


@pytest.mark.parametrize("priority", ["critical", "bulk"])
async def test_status_finds_a_queued_job_in_whichever_queue_holds_it(
    api: httpx.AsyncClient, queue: JobQueue, settings: Settings, priority: Priority
) -> None:
    job = await queue.with_options(priority=priority).enqueue(long_task, owner=1, label="2026-10")

    body = (await api.get(f"/jobs/{job.job_id}")).json()

    assert body["status"] == "queued"
    assert body["queue"] == f"arq:queue:{priority}"


async def test_aborting_a_queued_job_removes_it_from_its_queue(
    api: httpx.AsyncClient, queue: JobQueue, settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    job = await queue.with_options(priority="bulk").enqueue(long_task, owner=1, label="2026-10")

    assert (await api.delete(f"/jobs/{job.job_id}")).status_code == 202

    assert await redis_client.zcard(queue_name(settings, "bulk")) == 0
    body = (await api.get(f"/jobs/{job.job_id}")).json()
    assert (body["status"], body["queue"]) == ("aborted", "arq:queue:bulk")


async def test_a_critical_job_runs_on_a_critical_worker(
    api: httpx.AsyncClient, queue: JobQueue, start_worker: Callable[..., WorkerProcess]
) -> None:
    start_worker("tests.service.worker.CriticalWorkerSettings")
    job = await queue.with_options(priority="critical").enqueue(
        charge, charge_id="p-1", amount_cents=100, currency="EUR"
    )

    body = await wait_for_status(api, job.job_id, {"complete", "failed"}, timeout=PROCESS_START_SECONDS)

    assert (body["status"], body["queue"]) == ("complete", "arq:queue:critical")


async def test_a_critical_job_starts_within_one_second_behind_a_backlog_of_500_bulk_jobs(
    api: httpx.AsyncClient,
    queue: JobQueue,
    settings: Settings,
    start_worker: Callable[..., WorkerProcess],
    redis_client: redis.asyncio.Redis,
) -> None:
    start_worker("tests.service.worker.BulkWorkerSettings")
    start_worker("tests.service.worker.CriticalWorkerSettings")
    await wait_for(_two_workers(redis_client), timeout=PROCESS_START_SECONDS, what="both workers' heartbeats")
    bulk = queue.with_options(priority="bulk")
    for n in range(BACKLOG):
        await bulk.enqueue(long_task, owner=n + 1, label="2026-10")
    await wait_for(_running(redis_client), timeout=20, what="the bulk worker to be busy")

    job = await queue.with_options(priority="critical").enqueue(
        charge, charge_id="p-urgent", amount_cents=100, currency="EUR"
    )
    body = await wait_for_status(api, job.job_id, {"complete", "failed"}, timeout=PROCESS_START_SECONDS)

    waited = (
        datetime.fromisoformat(body["started_at"]) - datetime.fromisoformat(body["enqueued_at"])
    ).total_seconds()
    assert body["status"] == "complete"
    assert waited < 1.0, f"the critical job waited {waited:.2f}s"
    assert await redis_client.zcard(queue_name(settings, "bulk")) > BACKLOG - 100  # still a backlog


def _two_workers(redis_client: redis.asyncio.Redis) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return int(await redis_client.zcard(keys.WORKERS)) >= 2

    return probe


def _running(redis_client: redis.asyncio.Redis) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return bool(await redis_client.keys(keys.in_progress("*")))

    return probe
