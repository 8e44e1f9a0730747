"""The admin API's views of the queue: live workers, recent jobs by status, one job in full."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from arqkit.client import JobQueue
from tests.service.jobs import notify
from tests.support import WorkerProcess, wait_for, wait_for_status

ADMIN = {"Authorization": "Bearer test-admin-token"}


async def _email(job_queue: JobQueue, address: str) -> str:
    return (await job_queue.enqueue(notify, email=address, name="Ada")).job_id


async def test_workers_lists_each_live_worker_with_its_host_pid_and_queue(
    api: httpx.AsyncClient, worker: WorkerProcess
) -> None:
    workers = (await api.get("/admin/workers", headers=ADMIN)).json()

    assert [(w["pid"], w["queue"], w["jobs_running"]) for w in workers] == [(worker.pid, "default", 0)]
    assert workers[0]["host"]
    assert workers[0]["last_seen"] > 0


async def test_a_failed_jobs_detail_shows_its_traceback_to_admins_only(
    api: httpx.AsyncClient, job_queue: JobQueue, sink: httpx.AsyncClient, worker: WorkerProcess
) -> None:
    await sink.post("/_control/fail", json={"status": 400, "times": 1})
    job_id = await _email(job_queue, "rejected@example.com")
    public = await wait_for_status(api, job_id, {"failed"})

    async def detail_with_traceback() -> dict[str, Any] | None:
        body: dict[str, Any] = (await api.get(f"/admin/jobs/{job_id}", headers=ADMIN)).json()
        return body if body["failed_tries"] else None

    detail = await wait_for(detail_with_traceback, what="the failed try's record")
    [failed_try] = detail["failed_tries"]
    assert failed_try["type"] == "HTTPStatusError"
    assert "Traceback (most recent call last)" in failed_try["traceback"]
    assert "Traceback" not in str(public)


async def test_recent_jobs_lists_finished_jobs_newest_first_a_page_at_a_time(
    api: httpx.AsyncClient, job_queue: JobQueue, worker: WorkerProcess
) -> None:
    for address in ("a@example.com", "b@example.com", "c@example.com"):
        await wait_for_status(api, await _email(job_queue, address), {"complete"})

    async def all_listed() -> dict[str, Any] | None:
        page: dict[str, Any] = (await api.get("/admin/jobs?status=complete&limit=2", headers=ADMIN)).json()
        return page if page["next_cursor"] else None

    first = await wait_for(all_listed, what="3 complete jobs listed")
    cursor = first["next_cursor"]
    second = (await api.get(f"/admin/jobs?status=complete&limit=2&cursor={cursor}", headers=ADMIN)).json()
    times = [job["finished_at_ms"] for job in [*first["items"], *second["items"]]]
    assert len(times) == 3
    assert times == sorted(times, reverse=True)
    assert second["next_cursor"] is None


async def test_the_dead_letter_window_shows_what_a_replay_would_replay(
    api: httpx.AsyncClient, job_queue: JobQueue, sink: httpx.AsyncClient, worker: WorkerProcess
) -> None:
    await sink.post("/_control/fail", json={"status": 400, "times": 2})
    failed = {await _email(job_queue, "x@example.com"), await _email(job_queue, "y@example.com")}
    for job_id in failed:
        await wait_for_status(api, job_id, {"failed"})

    async def both_dead() -> dict[str, Any] | None:
        body: dict[str, Any] = (
            await api.get("/admin/dead-letters/window?since_seconds=60", headers=ADMIN)
        ).json()
        return body if body["count"] == 2 else None

    window = await wait_for(both_dead, what="two dead letters in the window")
    assert {letter["job_id"] for letter in window["items"]} == failed
    replayed = (
        await api.post("/admin/dead-letters/replay", json={"since_seconds": 60}, headers=ADMIN)
    ).json()
    assert replayed["count"] == window["count"]


async def test_the_detail_of_an_unknown_job_is_404(api: httpx.AsyncClient) -> None:
    response = await api.get("/admin/jobs/never-enqueued", headers=ADMIN)

    assert response.status_code == 404
    assert response.json()["detail"]


@pytest.mark.parametrize("query", ["status=exploded", "limit=0", "cursor=abc"])
async def test_recent_jobs_with_bad_paging_or_status_is_422(api: httpx.AsyncClient, query: str) -> None:
    response = await api.get(f"/admin/jobs?{query}", headers=ADMIN)

    assert response.status_code == 422
