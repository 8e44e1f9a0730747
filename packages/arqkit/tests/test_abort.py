"""DELETE /jobs/{id}: queued, running, finished and unknown jobs."""

from __future__ import annotations

import httpx
import redis.asyncio

from arqkit import keys
from tests.service.settings import Settings
from tests.support import WorkerProcess, wait_for_status

REPORT = {"owner": 1, "label": "2026-01"}


async def test_abort_of_a_queued_job_is_202_and_it_reports_aborted(
    api: httpx.AsyncClient, redis_client: redis.asyncio.Redis, settings: Settings
) -> None:
    job_id = (await api.post("/long", json=REPORT)).json()["job_id"]

    response = await api.delete(f"/jobs/{job_id}")

    assert response.status_code == 202
    body = (await api.get(f"/jobs/{job_id}")).json()
    assert body["status"] == "aborted"
    assert await redis_client.zscore(settings.queue_name, job_id) is None


async def test_abort_of_a_queued_job_leaves_no_marker_that_could_abort_a_later_job(
    api: httpx.AsyncClient, redis_client: redis.asyncio.Redis
) -> None:
    job_id = (await api.post("/long", json=REPORT)).json()["job_id"]

    await api.delete(f"/jobs/{job_id}")

    assert await redis_client.zscore(keys.ABORT_SET, job_id) is None


async def test_abort_of_a_running_job_cancels_it(api: httpx.AsyncClient, worker: WorkerProcess) -> None:
    job_id = (await api.post("/long", json=REPORT)).json()["job_id"]
    await wait_for_status(api, job_id, {"in_progress"})

    response = await api.delete(f"/jobs/{job_id}")

    assert response.status_code == 202
    body = await wait_for_status(api, job_id, {"aborted", "complete", "failed"})
    assert body["status"] == "aborted"
    assert body["progress"] is None or body["progress"] < 1


async def test_abort_of_a_finished_job_is_409(api: httpx.AsyncClient, worker: WorkerProcess) -> None:
    job_id = (await api.post("/notify", json={"email": "a@example.com", "name": "A"})).json()["job_id"]
    await wait_for_status(api, job_id, {"complete"})

    response = await api.delete(f"/jobs/{job_id}")

    assert response.status_code == 409
    assert response.json()["detail"]


async def test_abort_of_an_unknown_job_is_404(api: httpx.AsyncClient) -> None:
    response = await api.delete("/jobs/no-such-job")

    assert response.status_code == 404
