"""Downstream rate limits inside jobs: one budget across all workers, and waiting never fails a job."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

import httpx
import pytest

from tests.service.settings import Settings
from tests.support import WorkerProcess, wait_for_status

EMAILS = 20


@pytest.fixture
def throttled(settings: Settings) -> Settings:
    """The provider takes 5 emails a second; each worker takes 5 jobs at a time, so both get work."""
    return settings.model_copy(update={"notify_rate_limit": "5/second", "worker_max_jobs": 5})


async def _two_workers(start_worker: Callable[..., WorkerProcess], settings: Settings) -> list[WorkerProcess]:
    return [start_worker(worker_settings=settings), start_worker(worker_settings=settings)]


async def _notifications(api: httpx.AsyncClient, n: int) -> list[str]:
    return [
        (await api.post("/notify", json={"email": f"user{i}@example.com", "name": f"User {i}"})).json()[
            "job_id"
        ]
        for i in range(n)
    ]


async def _all_complete(api: httpx.AsyncClient, job_ids: list[str]) -> list[dict[str, object]]:
    return [await wait_for_status(api, job_id, {"complete", "failed"}, timeout=30) for job_id in job_ids]


async def test_notify_rate_limit_holds_across_two_workers_at_the_provider(
    api: httpx.AsyncClient,
    sink: httpx.AsyncClient,
    start_worker: Callable[..., WorkerProcess],
    throttled: Settings,
) -> None:
    workers = await _two_workers(start_worker, throttled)
    await _all_complete(api, await _notifications(api, EMAILS))

    received = sorted(
        datetime.fromisoformat(d["received_at"]) for d in (await sink.get("/_control/deliveries")).json()
    )
    seconds = [(t - received[0]).total_seconds() for t in received]
    # Slots are granted by Redis's clock; each send reaches the sink some time after its grant, and on a
    # loaded machine that delay varies by more than the gap between two one-second bursts. So the sink
    # can see a late burst next to the following one, never more: at most two bursts in any window.
    window = 1.0 - 0.1
    busiest = max(sum(1 for t in seconds if start <= t < start + window) for start in seconds)
    assert len(received) == EMAILS
    assert busiest <= 2 * 5  # without the shared limit, all 20 arrive at once
    assert seconds[-1] >= (EMAILS / 5 - 1) - 0.1  # 20 emails at 5/s: 4 bursts, 3 s apart at least
    assert all(_completed_jobs(w) for w in workers), "both workers sent some of the emails"


async def test_jobs_over_the_downstream_limit_are_deferred_without_spending_a_try(
    api: httpx.AsyncClient,
    sink: httpx.AsyncClient,
    start_worker: Callable[..., WorkerProcess],
    throttled: Settings,
) -> None:
    no_waiting = throttled.model_copy(update={"downstream_max_wait_seconds": 0})
    workers = await _two_workers(start_worker, no_waiting)

    statuses = await _all_complete(api, await _notifications(api, 10))

    assert [s["status"] for s in statuses] == ["complete"] * 10
    assert [s["try"] for s in statuses] == [1] * 10
    assert any("job deferred" in w.log_text() for w in workers)


def _completed_jobs(worker: WorkerProcess) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in worker.log_text().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == "job complete"]
