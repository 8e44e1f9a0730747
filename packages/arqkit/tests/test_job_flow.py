"""The whole path for real: HTTP -> Redis -> a real arq worker process -> GET /jobs/{id}."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import httpx
import redis.asyncio

from tests.support import WorkerProcess, wait_for, wait_for_status

NOTIFY = {"email": "ada@example.com", "name": "Ada"}


async def test_notify_answers_202_with_location_and_job_id(api: httpx.AsyncClient) -> None:
    response = await api.post("/notify", json=NOTIFY)

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    assert response.headers["location"] == body["status_url"] == f"/jobs/{body['job_id']}"


async def test_job_queued_before_any_worker_reports_queued_not_404(api: httpx.AsyncClient) -> None:
    job_id = (await api.post("/notify", json=NOTIFY)).json()["job_id"]

    body = (await api.get(f"/jobs/{job_id}")).json()

    assert body["status"] == "queued"
    assert body["function"] == "notify"
    assert body["try"] == 0
    assert body["max_tries"] == 8


async def test_notify_email_is_delivered_and_job_completes(
    api: httpx.AsyncClient, sink: httpx.AsyncClient, worker: WorkerProcess
) -> None:
    job_id = (await api.post("/notify", json=NOTIFY)).json()["job_id"]

    body = await wait_for_status(api, job_id, {"complete", "failed"})

    assert body["status"] == "complete"
    assert body["try"] == 1
    assert body["result"]["provider_id"]
    assert body["finished_at"] is not None
    deliveries = (await sink.get("/_control/deliveries")).json()
    assert [d["to"] for d in deliveries] == ["ada@example.com"]
    assert deliveries[0]["idempotency_key"] == job_id


async def test_report_goes_queued_in_progress_complete_with_visible_progress(
    api: httpx.AsyncClient, start_worker: Callable[..., WorkerProcess], redis_client: redis.asyncio.Redis
) -> None:
    job_id = (await api.post("/long", json={"owner": 7, "label": "2026-10"})).json()["job_id"]
    assert (await api.get(f"/jobs/{job_id}")).json()["status"] == "queued"
    start_worker()

    running = await wait_for_status(api, job_id, {"in_progress"}, timeout=20)
    assert running["started_at"] is not None

    async def partial_progress() -> float | None:
        progress = (await api.get(f"/jobs/{job_id}")).json()["progress"]
        return progress if progress and 0 < progress < 1 else None

    progress = await wait_for(partial_progress, what="progress between 0 and 1")
    assert 0 < progress < 1
    done = await wait_for_status(api, job_id, {"complete"}, timeout=20)
    assert done["progress"] == 1.0
    assert done["result"] == {"url": "/out/7/2026-10", "rows": 2000}


async def test_job_rejected_downstream_reports_failed_with_type_and_message_only(
    api: httpx.AsyncClient, sink: httpx.AsyncClient, worker: WorkerProcess
) -> None:
    await sink.post("/_control/fail", json={"status": 400, "times": 1})
    job_id = (await api.post("/notify", json=NOTIFY)).json()["job_id"]

    body = await wait_for_status(api, job_id, {"complete", "failed"})

    assert body["status"] == "failed"
    assert body["try"] == 1  # a 4xx is permanent: no retry
    assert body["error"]["type"] == "HTTPStatusError"
    assert "400" in body["error"]["message"]
    assert "Traceback" not in json.dumps(body)
    assert body["result"] is None


async def test_request_id_appears_on_the_workers_log_lines_for_its_job(
    api: httpx.AsyncClient, worker: WorkerProcess
) -> None:
    response = await api.post("/notify", json=NOTIFY, headers={"X-Request-ID": "req-trace-42"})
    job_id = response.json()["job_id"]
    assert response.headers["x-request-id"] == "req-trace-42"
    await wait_for_status(api, job_id, {"complete"})

    def job_lines() -> list[dict[str, object]]:
        lines = [json.loads(line) for line in worker.log_text().splitlines() if line.startswith("{")]
        return [line for line in lines if line.get("job_id") == job_id]

    await wait_for(_async(job_lines), what="the worker's log lines for the job")
    outcome = [line for line in job_lines() if line["event"] == "job complete"]
    assert outcome, job_lines()
    assert all(line["request_id"] == "req-trace-42" for line in job_lines())
    assert outcome[0]["function"] == "notify"
    assert outcome[0]["try"] == 1


async def test_a_new_request_id_is_made_when_the_callers_is_missing_or_unsafe(api: httpx.AsyncClient) -> None:
    made = await api.get("/healthz")
    unsafe = await api.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})

    assert len(made.headers["x-request-id"]) == 32
    assert unsafe.headers["x-request-id"] != "bad id\twith spaces"


def _async(fn: Callable[[], list[dict[str, object]]]) -> Callable[[], Awaitable[list[dict[str, object]]]]:
    async def probe() -> list[dict[str, object]]:
        return fn()

    return probe
