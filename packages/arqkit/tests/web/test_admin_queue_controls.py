"""The admin API's hand on the queue: pause and resume a queue, discard a dead letter."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from arqkit import JobQueue
from tests.service.settings import Settings
from tests.support import WorkerProcess, wait_for

ADMIN = {"Authorization": "Bearer test-admin-token"}


async def _paused(api: httpx.AsyncClient) -> dict[str, bool]:
    queues: list[dict[str, Any]] = (await api.get("/admin/queues", headers=ADMIN)).json()
    return {q["priority"]: q["paused"] for q in queues}


async def test_pause_and_resume_answer_204_and_show_in_admin_queues(api: httpx.AsyncClient) -> None:
    paused = await api.post("/admin/queues/bulk/pause", headers=ADMIN)

    assert paused.status_code == 204
    assert await _paused(api) == {"critical": False, "default": False, "bulk": True}
    resumed = await api.post("/admin/queues/bulk/resume", headers=ADMIN)
    assert resumed.status_code == 204
    assert await _paused(api) == {"critical": False, "default": False, "bulk": False}


async def test_a_producer_still_answers_202_queued_while_its_queue_is_paused(api: httpx.AsyncClient) -> None:
    await api.post("/admin/queues/default/pause", headers=ADMIN)

    response = await api.post("/notify", json={"email": "ada@example.com", "name": "Ada"})

    assert response.status_code == 202
    assert response.json()["status"] == "queued"
    assert (await api.get(response.headers["Location"])).json()["status"] == "queued"


@pytest.mark.parametrize("name", ["urgent", "arq:queue", "DEFAULT", "x" * 300])
async def test_pausing_an_unknown_queue_is_404(api: httpx.AsyncClient, name: str) -> None:
    response = await api.post(f"/admin/queues/{name}/pause", headers=ADMIN)

    assert response.status_code == 404
    assert "no such queue" in response.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/admin/queues/default/pause"),
        ("POST", "/admin/queues/default/resume"),
        ("DELETE", "/admin/dead-letters/some-job"),
    ],
)
async def test_queue_controls_need_the_admin_token(api: httpx.AsyncClient, method: str, path: str) -> None:
    response = await api.request(method, path)

    assert response.status_code == 401
    assert await _paused(api) == {"critical": False, "default": False, "bulk": False}


async def test_discard_drops_a_dead_letter_and_a_second_discard_is_404(
    api: httpx.AsyncClient, job_queue: JobQueue, worker: WorkerProcess, settings: Settings
) -> None:
    job = await job_queue.enqueue_named("missing_function", [], {}, settings.queue_name)

    async def dead() -> bool:
        return any(i["job_id"] == job.job_id for i in (await _letters(api)))

    await wait_for(dead, timeout=15, what="the dead letter")

    discarded = await api.delete(f"/admin/dead-letters/{job.job_id}", headers=ADMIN)

    assert discarded.status_code == 204
    assert await _letters(api) == []
    assert (await api.delete(f"/admin/dead-letters/{job.job_id}", headers=ADMIN)).status_code == 404
    assert (await api.post(f"/admin/dead-letters/{job.job_id}/replay", headers=ADMIN)).status_code == 404


async def test_discarding_an_unknown_or_malformed_id_is_a_4xx_json_error(api: httpx.AsyncClient) -> None:
    unknown = await api.delete("/admin/dead-letters/no-such-job", headers=ADMIN)
    malformed = await api.delete("/admin/dead-letters/%00%FF", headers=ADMIN)

    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "no such dead letter"}
    assert malformed.status_code in (404, 422)
    assert "detail" in malformed.json()


async def _letters(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await api.get("/admin/dead-letters", headers=ADMIN)).json()["items"]
    return items
