"""A dead letter is replayed at most once however many requests race for it (issue 21, finding 1), and a
window replay is bounded per request and resumable: a timeout and a retry never double a letter."""

from __future__ import annotations

import asyncio
import time

import httpx
import redis.asyncio

from arqkit import dead_letters
from arqkit.dead_letters import DeadLetter
from tests.service.settings import Settings

ADMIN = {"Authorization": "Bearer test-admin-token"}


def letter(job_id: str, queue: str, failed_at_ms: int) -> DeadLetter:
    return DeadLetter(
        job_id=job_id,
        function="notify",
        queue=queue,
        args=[],
        keyword_args={"email": f"{job_id}@example.com", "name": "Ada"},
        error={"type": "HTTPStatusError", "message": "HTTP 400"},
        tries=1,
        enqueued_at_ms=None,
        failed_at_ms=failed_at_ms,
    )


async def jobs_in_queue(redis_client: redis.asyncio.Redis, settings: Settings) -> int:
    return int(await redis_client.zcard(settings.queue_name))


async def test_concurrent_replays_of_one_letter_make_one_job(
    api: httpx.AsyncClient, redis_client: redis.asyncio.Redis, settings: Settings
) -> None:
    now_ms = int(time.time() * 1000)
    for n in range(10):
        await dead_letters.record(redis_client, letter(f"dead-{n}", settings.queue_name, now_ms), 1000)

    answers = await asyncio.gather(
        *(
            api.post(f"/admin/dead-letters/dead-{n}/replay", headers=ADMIN)
            for n in range(10)
            for _ in range(20)
        )
    )

    accepted = [a for a in answers if a.status_code == 202]
    assert {a.status_code for a in answers} <= {202, 404}, {a.status_code for a in answers}
    for n in range(10):
        ids = {a.json()["job_id"] for a in accepted if a.json()["replay_of"] == f"dead-{n}"}
        assert len(ids) == 1, (n, ids)  # every answer names the one job
    assert await jobs_in_queue(redis_client, settings) == 10  # 200 requests, 10 letters: 10 jobs
    assert await dead_letters.count(redis_client) == 0


async def test_racing_window_replays_never_double_a_letter_and_each_request_is_bounded(
    api: httpx.AsyncClient, redis_client: redis.asyncio.Redis, settings: Settings
) -> None:
    now_ms = int(time.time() * 1000)
    for n in range(300):
        await dead_letters.record(redis_client, letter(f"w-{n}", settings.queue_name, now_ms - n), 1000)

    async def replay_all() -> int:
        """An operator's loop: a bounded request, again with the returned `until_ms` while any remain."""
        body: dict[str, int] = {"since_seconds": 3600, "limit": 40}
        replayed = 0
        while True:
            answer = await api.post("/admin/dead-letters/replay", headers=ADMIN, json=body)
            assert answer.status_code == 202, answer.text
            page: dict[str, int] = answer.json()
            assert page["count"] <= 40
            replayed += page["count"]
            if not page["remaining"]:
                return replayed
            body["until_ms"] = page["until_ms"]

    await asyncio.gather(replay_all(), replay_all(), replay_all())

    assert await jobs_in_queue(redis_client, settings) == 300  # three operators, 300 letters: 300 jobs
    assert await dead_letters.count(redis_client) == 0


async def test_a_window_replay_leaves_letters_that_failed_after_its_first_request(
    api: httpx.AsyncClient, redis_client: redis.asyncio.Redis, settings: Settings
) -> None:
    now_ms = int(time.time() * 1000)
    for n in range(5):
        await dead_letters.record(redis_client, letter(f"old-{n}", settings.queue_name, now_ms - 1000), 1000)
    first = (
        await api.post("/admin/dead-letters/replay", headers=ADMIN, json={"since_seconds": 60, "limit": 2})
    ).json()
    assert (first["count"], first["remaining"]) == (2, 3)
    await dead_letters.record(redis_client, letter("later", settings.queue_name, now_ms + 5000), 1000)

    resumed = await api.post(
        "/admin/dead-letters/replay",
        headers=ADMIN,
        json={"since_seconds": 60, "limit": 10, "until_ms": first["until_ms"]},
    )

    assert (resumed.json()["count"], resumed.json()["remaining"]) == (3, 0)
    assert await dead_letters.contains(redis_client, "later")


async def test_a_replay_no_worker_will_run_says_so(
    api: httpx.AsyncClient, redis_client: redis.asyncio.Redis, settings: Settings
) -> None:
    """202 all the same (a worker may start later), with a warning rather than silence."""
    now_ms = int(time.time() * 1000)
    await dead_letters.record(redis_client, letter("unserved", settings.queue_name, now_ms), 1000)
    await dead_letters.record(redis_client, letter("elsewhere", "arq:queue:gone", now_ms), 1000)

    unserved = (await api.post("/admin/dead-letters/unserved/replay", headers=ADMIN)).json()
    elsewhere = (await api.post("/admin/dead-letters/elsewhere/replay", headers=ADMIN)).json()

    assert unserved["warning"] == "no live worker serves queue 'default': the job waits until one starts"
    assert "not one of this service's queues" in elsewhere["warning"]
