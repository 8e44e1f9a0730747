"""A job payload the worker cannot run ends as a dead letter; the worker goes on running other jobs, and
a final failure's dead letter is stored with its result, so a worker killed right after loses neither."""

from __future__ import annotations

import signal

import httpx
import pytest
import redis.asyncio

from arqkit import keys
from tests.support import WorkerProcess, wait_for, wait_for_status

ADMIN = {"Authorization": "Bearer test-admin-token"}
ENQUEUED_MS = 1795349373982
POISONS = {
    "function is a list": b'{"f":["x"],"a":[],"k":{},"t":1,"et":%d}' % ENQUEUED_MS,
    "enqueue time is a string": b'{"f":"notify","a":[],"k":{},"t":1,"et":"soon"}',
    "try is a string": b'{"f":"notify","a":[],"k":{},"t":"1","et":%d}' % ENQUEUED_MS,
    "not JSON": b"\x80\x04garbage",
}


async def _poison(redis_client: redis.asyncio.Redis, job_id: str, payload: bytes) -> None:
    await redis_client.set(keys.job(job_id), payload, px=600_000)
    await redis_client.zadd(keys.ARQ_DEFAULT_QUEUE, {job_id: 1})


@pytest.mark.parametrize("payload", POISONS.values(), ids=POISONS.keys())
async def test_a_malformed_payload_is_dead_lettered_and_the_worker_goes_on(
    api: httpx.AsyncClient, worker: WorkerProcess, redis_client: redis.asyncio.Redis, payload: bytes
) -> None:
    await _poison(redis_client, "poison", payload)

    failed = await wait_for_status(api, "poison", {"failed"})
    letter = (await api.get("/admin/jobs/poison", headers=ADMIN)).json()
    notify = await api.post("/notify", json={"email": "after@example.com", "name": "A"})
    after = await wait_for_status(api, notify.json()["job_id"], {"complete"})

    assert failed["error"]["type"] == "DeserializationError"
    assert "unable to deserialize job" in letter["dead_letter"]["error"]["message"]
    assert after["status"] == "complete"
    assert worker.process is not None
    assert worker.process.poll() is None


async def test_a_worker_killed_right_after_a_final_failure_has_stored_its_dead_letter(
    worker: WorkerProcess, redis_client: redis.asyncio.Redis
) -> None:
    await _poison(redis_client, "poison", POISONS["function is a list"])

    await wait_for(lambda: redis_client.exists(keys.result("poison")), interval=0.001, what="the result")
    worker.signal(signal.SIGKILL)

    assert await redis_client.hexists(keys.DEAD_LETTER_DATA, "poison")  # type: ignore[misc]
    assert await redis_client.zscore(keys.DEAD_LETTERS, "poison") is not None


async def test_a_job_queued_with_a_score_of_minus_infinity_runs_and_the_worker_goes_on(
    api: httpx.AsyncClient, worker: WorkerProcess, redis_client: redis.asyncio.Redis
) -> None:
    """arq turns the score into an int before running the job: -inf would end the worker, every time."""
    payload = b'{"f":"notify","a":[],"k":{"email":"a@example.com","name":"A"},"t":null,"et":%d}'
    await redis_client.set(keys.job("minus-inf"), payload % ENQUEUED_MS, px=600_000)
    await redis_client.zadd(keys.ARQ_DEFAULT_QUEUE, {"minus-inf": float("-inf")})

    done = await wait_for_status(api, "minus-inf", {"complete", "failed"})

    assert done["status"] == "complete"
    assert worker.process is not None
    assert worker.process.poll() is None
