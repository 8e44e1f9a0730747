"""The whole template at once: `create_app()`'s routes, a real `arq jobs.WorkerSettings` process and the
mail sink over HTTP, with the example jobs."""

from __future__ import annotations

import httpx
from arqkit.testing import WorkerProcess, wait_for, wait_for_status


async def test_a_signup_sends_its_welcome_email_through_a_worker(
    api: httpx.AsyncClient, worker: WorkerProcess, sink: httpx.AsyncClient
) -> None:
    response = await api.post("/signup", json={"email": "ada@example.com", "name": "Ada"})

    done = await wait_for_status(api, response.json()["job_id"], {"complete", "failed"}, timeout=20)
    assert done["status"] == "complete", done
    [email] = (await sink.get("/_control/deliveries")).json()
    assert email["to"] == "ada@example.com"
    assert email["idempotency_key"] == done["job_id"]


async def test_a_report_shows_its_progress_then_its_result(
    api: httpx.AsyncClient, worker: WorkerProcess
) -> None:
    job_id = (await api.post("/reports", json={"user_id": 7, "month": "2026-10"})).json()["job_id"]

    async def partway() -> float | None:
        progress = (await api.get(f"/jobs/{job_id}")).json()["progress"]
        return progress if progress and progress < 1 else None

    await wait_for(partway, timeout=20, what="the report's progress")
    done = await wait_for_status(api, job_id, {"complete", "failed"}, timeout=20)
    assert done["status"] == "complete", done
    assert done["result"] == {"url": "/reports/7/2026-10.csv", "rows": 500}
