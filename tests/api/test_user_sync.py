"""`POST /users/{id}/sync`: `sync_user` is unique while queued or running, so asking again answers with the
job already under way; once it has finished, a new one."""

from __future__ import annotations

import httpx
from arqkit.testing import WorkerProcess, wait_for_status

from tests.support import PROCESS_START_SECONDS


async def test_a_sync_asked_for_twice_while_queued_is_one_job(api: httpx.AsyncClient) -> None:
    first = await api.post("/users/7/sync")
    again = await api.post("/users/7/sync")
    other_user = await api.post("/users/8/sync")

    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["job_id"] == first.json()["job_id"]
    assert again.headers["Location"] == f"/jobs/{first.json()['job_id']}"
    assert other_user.json()["job_id"] != first.json()["job_id"]


async def test_a_sync_asked_for_while_running_is_that_job_and_after_it_finished_a_new_one(
    api: httpx.AsyncClient, worker: WorkerProcess
) -> None:
    job_id = (await api.post("/users/7/sync")).json()["job_id"]
    await wait_for_status(api, job_id, {"in_progress"}, timeout=PROCESS_START_SECONDS)

    while_running = await api.post("/users/7/sync")
    done = await wait_for_status(api, job_id, {"complete", "failed"}, timeout=20)
    after = await api.post("/users/7/sync")

    assert while_running.json()["job_id"] == job_id
    assert done["status"] == "complete"
    assert done["result"]["user_id"] == 7
    assert after.status_code == 202
    assert after.json()["job_id"] != job_id


async def test_a_user_id_that_is_not_a_positive_integer_is_a_422(api: httpx.AsyncClient) -> None:
    for user_id in ("0", "-1", "seven", "9007199254740992"):
        response = await api.post(f"/users/{user_id}/sync")

        assert response.status_code == 422, user_id
        assert "detail" in response.json()
