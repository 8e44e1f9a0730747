"""Whatever another process (or an attacker with Redis access) wrote, the API answers a clear status or
skips the record, and logs it: never a 500, never a dashboard stream that ends."""

from __future__ import annotations

import pickle
import time

import httpx
import orjson
import pytest
import redis.asyncio

from arqkit import JobQueue, QueueAdmin, keys
from arqkit.dead_letters import DeadLetter

ADMIN = {"Authorization": "Bearer test-admin-token"}
NOW_MS = int(time.time() * 1000)
GOOD_JOB: dict[str, object] = {"f": "notify", "a": [], "k": {}, "t": None, "et": NOW_MS}


def _letter(job_id: str) -> bytes:
    letter = DeadLetter(
        job_id=job_id,
        function="notify",
        queue=keys.ARQ_DEFAULT_QUEUE,
        args=[],
        keyword_args={},
        error={"type": "ValueError", "message": "no"},
        tries=1,
        enqueued_at_ms=NOW_MS,
        failed_at_ms=NOW_MS,
    )
    return letter.model_dump_json().encode()


async def _queued(redis_client: redis.asyncio.Redis, job_id: str, payload: bytes) -> None:
    await redis_client.set(keys.job(job_id), payload)
    await redis_client.zadd(keys.ARQ_DEFAULT_QUEUE, {job_id: NOW_MS})


@pytest.mark.parametrize(
    "payload",
    [
        orjson.dumps({**GOOD_JOB, "f": ["x"]}),
        orjson.dumps({**GOOD_JOB, "f": 7}),
        pickle.dumps({"f": "notify"}),
    ],
    ids=["function is a list", "function is a number", "pickled"],
)
async def test_status_of_an_unreadable_payload_says_unreadable(
    api: httpx.AsyncClient, redis_client: redis.asyncio.Redis, payload: bytes
) -> None:
    await _queued(redis_client, "garbage", payload)

    response = await api.get("/jobs/garbage")

    assert response.status_code == 200
    assert response.json()["function"] == "<unreadable>"
    assert "unreadable" in response.json()["error"]["message"]


async def test_status_with_a_non_numeric_try_counter_is_a_status_not_a_500(
    api: httpx.AsyncClient, redis_client: redis.asyncio.Redis
) -> None:
    await _queued(redis_client, "j", orjson.dumps(GOOD_JOB))
    await redis_client.set(keys.retry("j"), "many")

    response = await api.get("/jobs/j")

    assert response.status_code == 200
    assert response.json()["status"] == "queued"


@pytest.mark.parametrize("field", ["progress", "started_at"])
@pytest.mark.parametrize("garbage", ["abc", "nan", "1e999"])
async def test_status_with_garbage_in_the_job_meta_ignores_it(
    api: httpx.AsyncClient, redis_client: redis.asyncio.Redis, field: str, garbage: str
) -> None:
    await _queued(redis_client, "j", orjson.dumps(GOOD_JOB))
    await redis_client.set(keys.in_progress("j"), "1")
    await redis_client.hset(keys.job_meta("j"), field, garbage)  # type: ignore[misc]

    response = await api.get("/jobs/j")

    assert response.status_code == 200
    assert response.json()["status"] == "in_progress"
    assert response.json()[field] is None


@pytest.mark.parametrize(
    "result",
    [
        {
            "t": "1",
            "f": "x",
            "a": [],
            "k": {},
            "et": 1,
            "s": True,
            "r": 1,
            "st": 1,
            "ft": 2,
            "q": "q",
            "id": "j",
        },
        {
            "t": 1,
            "f": "x",
            "a": [],
            "k": {},
            "et": 1,
            "s": "yes",
            "r": 1,
            "st": 1,
            "ft": 2,
            "q": "q",
            "id": "j",
        },
        {"t": 1, "f": "x", "a": [], "k": {}, "et": 1, "s": True, "r": 1, "st": 1, "ft": 2, "q": 5, "id": "j"},
        {"t": 1, "f": "x", "a": [], "k": {}, "et": 1, "s": True, "r": 1, "st": "then", "ft": 2},
        {"t": None, "f": "x", "a": [], "k": {}, "et": 1, "s": True, "r": 1, "st": 1, "ft": 2},
    ],
    ids=["try", "success", "queue", "start time", "no try"],
)
async def test_status_of_a_result_with_wrong_field_types_says_unreadable(
    api: httpx.AsyncClient, redis_client: redis.asyncio.Redis, result: dict[str, object]
) -> None:
    await redis_client.set(keys.result("j"), orjson.dumps(result))

    response = await api.get("/jobs/j")

    assert response.status_code == 200
    assert response.json()["status"] == "failed"
    assert "unreadable" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "payload", [pickle.dumps({"f": "x"}), b"garbage", orjson.dumps({**GOOD_JOB, "et": "soon"})]
)
async def test_aborting_a_job_whose_payload_is_unreadable_removes_it(
    api: httpx.AsyncClient, redis_client: redis.asyncio.Redis, payload: bytes
) -> None:
    await _queued(redis_client, "garbage", payload)

    response = await api.delete("/jobs/garbage")

    assert response.status_code == 202
    assert await redis_client.zscore(keys.ARQ_DEFAULT_QUEUE, "garbage") is None


@pytest.fixture
async def one_bad_letter(redis_client: redis.asyncio.Redis) -> None:
    """Two good dead letters around one that is not JSON and one with wrong fields."""
    for index, (job_id, raw) in enumerate(
        [
            ("good-1", _letter("good-1")),
            ("not-json", b"\x80\x04garbage"),
            ("wrong-fields", orjson.dumps({"job_id": 5, "tries": "x"})),
            ("good-2", _letter("good-2")),
        ]
    ):
        await redis_client.hset(keys.DEAD_LETTER_DATA, job_id, raw)  # type: ignore[misc,arg-type]
        await redis_client.zadd(keys.DEAD_LETTERS, {job_id: NOW_MS - index})


@pytest.mark.usefixtures("one_bad_letter")
async def test_a_malformed_dead_letter_is_skipped_in_the_list(api: httpx.AsyncClient) -> None:
    response = await api.get("/admin/dead-letters", headers=ADMIN)

    assert response.status_code == 200
    assert [item["job_id"] for item in response.json()["items"]] == ["good-1", "good-2"]


@pytest.mark.usefixtures("one_bad_letter")
async def test_a_malformed_dead_letter_is_skipped_in_the_replay_window(api: httpx.AsyncClient) -> None:
    response = await api.get("/admin/dead-letters/window", headers=ADMIN, params={"since_seconds": 3600})

    assert response.status_code == 200
    assert [item["job_id"] for item in response.json()["items"]] == ["good-1", "good-2"]


@pytest.mark.usefixtures("one_bad_letter")
@pytest.mark.parametrize("job_id", ["not-json", "wrong-fields"])
async def test_the_admin_view_of_a_job_with_a_malformed_dead_letter_answers(
    api: httpx.AsyncClient, job_id: str
) -> None:
    response = await api.get(f"/admin/jobs/{job_id}", headers=ADMIN)

    assert response.status_code in (200, 404)


@pytest.mark.usefixtures("one_bad_letter")
async def test_the_dashboard_snapshot_skips_a_malformed_dead_letter(
    job_queue: JobQueue, redis_client: redis.asyncio.Redis
) -> None:
    """`/admin/events` streams these snapshots; one that raised would end every open dashboard's stream."""
    await redis_client.zadd(keys.WORKERS, {"w-1": time.time()})
    await redis_client.set(keys.worker_heartbeat("w-1"), b"garbage")
    await redis_client.zadd(keys.recent_jobs("failed"), {b"garbage": NOW_MS})
    await redis_client.hset(keys.METRICS, mapping={"not json": "1", '["jobs_started_total"]': "many"})  # type: ignore[misc]

    snapshot = await QueueAdmin(job_queue).snapshot()

    assert [letter.job_id for letter in snapshot.dead_letters] == ["good-1", "good-2"]
    assert snapshot.workers == []
    assert snapshot.recent_failures == []
