"""Every final failure lands in the dead-letter set, whatever path arq takes to it; admins list and
replay them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any, cast

import httpx
import pytest
import redis.asyncio
from arq.connections import ArqRedis

from arqkit import dead_letters, keys
from arqkit.dead_letters import DeadLetter
from arqkit.internals.connection import create_api_redis
from tests.service.settings import Settings
from tests.support import PROCESS_START_SECONDS, WorkerProcess, wait_for, wait_for_status

ADMIN = {"Authorization": "Bearer test-admin-token"}


async def _dead_letters(api: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await api.get("/admin/dead-letters", headers=ADMIN, params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def _dead_letter(api: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        items = (await _dead_letters(api, limit=500))["items"]
        return next((item for item in items if item["job_id"] == job_id), None)

    # Often right after a worker was started: its start is part of the wait.
    return await wait_for(probe, timeout=PROCESS_START_SECONDS, what=f"dead letter for {job_id}")


async def _enqueue_raw(settings: Settings, function: str, **options: Any) -> str:
    pool = create_api_redis(settings)
    try:
        job = await pool.enqueue_job(function, **options)
        assert job is not None
        return job.job_id
    finally:
        await pool.aclose()


async def test_permanent_error_is_dead_lettered_after_one_try(
    api: httpx.AsyncClient, sink: httpx.AsyncClient, worker: WorkerProcess
) -> None:
    await sink.post("/_control/fail", json={"status": 400, "times": 1})
    response = await api.post(
        "/notify", json={"email": "bad@example.com", "name": "B"}, headers={"X-Request-ID": "r-1"}
    )
    job_id = response.json()["job_id"]

    letter = await _dead_letter(api, job_id)

    assert letter["function"] == "notify"
    assert letter["keyword_args"] == {"email": "bad@example.com", "name": "B"}
    assert letter["error"]["type"] == "HTTPStatusError"
    assert letter["tries"] == 1
    assert letter["request_id"] == "r-1"
    assert "Traceback" in letter["traceback"]  # admin only; GET /jobs/{id} never shows it


async def test_poison_job_is_dead_lettered_after_max_tries_and_never_blocks_the_queue(
    api: httpx.AsyncClient, sink: httpx.AsyncClient, worker: WorkerProcess
) -> None:
    await sink.post("/_control/fail", json={"status": 503, "times": 1000, "to": "poison@example.com"})
    poison = (await api.post("/notify", json={"email": "poison@example.com", "name": "P"})).json()["job_id"]
    others = [
        (await api.post("/notify", json={"email": f"ok{i}@example.com", "name": "O"})).json()["job_id"]
        for i in range(5)
    ]

    for job_id in others:
        assert (await wait_for_status(api, job_id, {"complete"}))["status"] == "complete"
    letter = await _dead_letter(api, poison)
    status = (await api.get(f"/jobs/{poison}")).json()

    assert letter["tries"] == 8 == status["max_tries"] == status["try"]
    assert status["status"] == "failed"
    assert (await sink.get("/_control/attempts")).json()["poison@example.com"] == 8


async def test_retried_job_shows_its_tries_and_completes(
    api: httpx.AsyncClient, sink: httpx.AsyncClient, worker: WorkerProcess
) -> None:
    await sink.post("/_control/fail", json={"status": 500, "times": 2})
    job_id = (await api.post("/notify", json={"email": "flaky@example.com", "name": "F"})).json()["job_id"]

    status = await wait_for_status(api, job_id, {"complete", "failed"})

    assert status["status"] == "complete"
    assert status["try"] == 3


async def test_job_whose_function_no_longer_exists_is_dead_lettered(
    api: httpx.AsyncClient, worker: WorkerProcess, settings: Settings
) -> None:
    job_id = await _enqueue_raw(settings, "removed_in_last_deploy")

    letter = await _dead_letter(api, job_id)

    assert letter["error"]["type"] == "JobExecutionFailed"
    assert "removed_in_last_deploy" in letter["error"]["message"]


async def test_job_that_expired_before_it_ran_is_dead_lettered(
    api: httpx.AsyncClient,
    start_worker: Callable[..., WorkerProcess],
    redis_client: redis.asyncio.Redis,
    settings: Settings,
) -> None:
    job_id = await _enqueue_raw(settings, "notify", _expires=timedelta(milliseconds=100))
    await wait_for(lambda: _gone(redis_client, keys.job(job_id)), what="the job key to expire")
    start_worker()

    letter = await _dead_letter(api, job_id)

    assert letter["error"]["message"] == "job expired"


async def test_job_that_times_out_is_dead_lettered(
    api: httpx.AsyncClient, start_worker: Callable[..., WorkerProcess], settings: Settings
) -> None:
    start_worker("tests.support.workers.WithTestJobs")
    job_id = await _enqueue_raw(settings, "outlives_its_timeout")

    letter = await _dead_letter(api, job_id)

    assert letter["error"]["type"] == "TimeoutError"
    assert (await api.get(f"/jobs/{job_id}")).json()["status"] == "failed"


async def test_dead_letters_are_listed_newest_first_in_pages(
    api: httpx.AsyncClient, worker: WorkerProcess, settings: Settings
) -> None:
    job_ids = []
    for i in range(5):
        job_ids.append(await _enqueue_raw(settings, f"missing_{i}"))
        await _dead_letter(api, job_ids[-1])  # one at a time: distinct failure times

    first = await _dead_letters(api, limit=2)
    second = await _dead_letters(api, limit=2, cursor=first["next_cursor"])
    third = await _dead_letters(api, limit=2, cursor=second["next_cursor"])

    listed = [item["job_id"] for page in (first, second, third) for item in page["items"]]
    assert listed == job_ids[::-1]
    assert third["next_cursor"] is None


async def test_replaying_a_dead_letter_runs_it_again_as_a_new_job(
    api: httpx.AsyncClient, sink: httpx.AsyncClient, worker: WorkerProcess
) -> None:
    await sink.post("/_control/fail", json={"status": 400, "times": 1})
    original = (await api.post("/notify", json={"email": "again@example.com", "name": "A"})).json()["job_id"]
    await _dead_letter(api, original)

    response = await api.post(f"/admin/dead-letters/{original}/replay", headers=ADMIN)

    assert response.status_code == 202
    replayed = response.json()
    assert replayed["replay_of"] == original
    assert replayed["job_id"] != original
    assert (await wait_for_status(api, replayed["job_id"], {"complete"}))["status"] == "complete"
    assert original not in [i["job_id"] for i in (await _dead_letters(api))["items"]]


async def test_replaying_a_time_window_replays_only_the_letters_in_it(
    api: httpx.AsyncClient, worker: WorkerProcess, settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    old = await _enqueue_raw(settings, "missing_old")
    await _dead_letter(api, old)
    await redis_client.zadd(keys.DEAD_LETTERS, {old: 1_000})  # failed long ago
    recent = await _enqueue_raw(settings, "missing_recent")
    await _dead_letter(api, recent)

    response = await api.post("/admin/dead-letters/replay", headers=ADMIN, json={"since_seconds": 3600})

    assert response.status_code == 202
    assert response.json()["count"] == 1
    remaining = [i["job_id"] for i in (await _dead_letters(api))["items"]]
    assert old in remaining  # (the replayed job fails again at once: its new letter may be there too)
    assert recent not in remaining


async def test_replay_of_an_unknown_dead_letter_is_404(api: httpx.AsyncClient) -> None:
    response = await api.post("/admin/dead-letters/nope/replay", headers=ADMIN)

    assert response.status_code == 404
    assert response.json()["detail"]


@pytest.mark.parametrize("window", [0, -5, "ten", None, 1.5])
async def test_replay_window_that_is_not_a_positive_number_is_422(
    api: httpx.AsyncClient, window: object
) -> None:
    response = await api.post("/admin/dead-letters/replay", headers=ADMIN, json={"since_seconds": window})

    assert response.status_code == 422


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/queues"),
        ("GET", "/admin/dead-letters"),
        ("POST", "/admin/dead-letters/x/replay"),
        ("POST", "/admin/dead-letters/replay"),
    ],
)
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic eA=="}])
async def test_admin_routes_need_the_admin_token(
    api: httpx.AsyncClient, method: str, path: str, headers: dict[str, str]
) -> None:
    response = await api.request(method, path, headers=headers, json={"since_seconds": 1})

    assert response.status_code == 401
    assert response.json()["detail"]


async def _gone(client: redis.asyncio.Redis, key: str) -> bool:
    await asyncio.sleep(0)
    return not await client.exists(key)


async def test_paging_neither_skips_nor_repeats_letters_that_failed_in_the_same_millisecond(
    api: httpx.AsyncClient, redis_client: redis.asyncio.Redis, settings: Settings
) -> None:
    for i in range(7):
        letter = DeadLetter(
            job_id=f"tie-{i}",
            function="f",
            queue="q",
            args=[],
            keyword_args={},
            error={"type": "E", "message": ""},
            tries=1,
            enqueued_at_ms=None,
            failed_at_ms=1_000 + (i // 3),
        )
        await dead_letters.record(cast(ArqRedis, redis_client), letter, settings.dead_letter_max)

    seen, cursor = [], None
    while True:
        page = await _dead_letters(api, limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [item["job_id"] for item in page["items"]]
        if not (cursor := page["next_cursor"]):
            break

    assert sorted(seen) == [f"tie-{i}" for i in range(7)]
    assert len(seen) == 7


async def test_a_malformed_cursor_is_422(api: httpx.AsyncClient) -> None:
    response = await api.get("/admin/dead-letters", headers=ADMIN, params={"cursor": "abc"})

    assert response.status_code == 422


async def test_admin_queues_reports_each_queue_with_its_waiting_running_and_dead_jobs(
    api: httpx.AsyncClient, worker: WorkerProcess, settings: Settings
) -> None:
    await _dead_letter(api, await _enqueue_raw(settings, "missing_function"))
    for _ in range(3):
        await api.post("/long", json={"owner": 1, "label": "2026-04"})  # 2 s each

    async def three_running() -> dict[str, Any] | None:
        response = await api.get("/admin/queues", headers=ADMIN)
        default = next(q for q in response.json() if q["name"] == "default")
        return default if default["in_progress"] == 3 else None

    default = await wait_for(three_running, timeout=20, what="three reports running")
    names = [q["name"] for q in (await api.get("/admin/queues", headers=ADMIN)).json()]
    assert sorted(names) == ["bulk", "critical", "default"]
    assert default["workers_alive"] == 1
    assert default["dead"] == 1
    assert default["queued"] == 0  # arq keeps running jobs in the queue; they are not "queued"


async def test_a_replayed_dead_letter_goes_back_to_its_own_queue_and_is_counted_there(
    api: httpx.AsyncClient, settings: Settings, start_worker: Callable[..., WorkerProcess]
) -> None:
    """Only a bulk worker runs: a replay that landed on the default queue would never be picked up."""
    bulk = f"{settings.queue_name}:bulk"
    start_worker("tests.service.worker.BulkWorkerSettings")
    original = await _enqueue_raw(settings, "missing_function", _queue_name=bulk)
    await _dead_letter(api, original)

    dead = {q["name"]: q["dead"] for q in (await api.get("/admin/queues", headers=ADMIN)).json()}
    assert dead == {"default": 0, "bulk": 1, "critical": 0}

    replayed = (await api.post(f"/admin/dead-letters/{original}/replay", headers=ADMIN)).json()

    again = await wait_for_status(api, replayed["job_id"], {"failed"})
    assert again["queue"] == bulk
