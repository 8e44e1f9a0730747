"""No pickle anywhere: a pickled payload written into Redis must never become code execution."""

from __future__ import annotations

import os
import pickle
import time
from pathlib import Path

import httpx
import redis.asyncio

from arqkit import keys
from arqkit.internals.connection import create_api_redis
from tests.service.settings import Settings
from tests.support import WorkerProcess, wait_for_status


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


async def test_a_pickled_job_payload_is_never_executed_by_the_worker(
    api: httpx.AsyncClient,
    worker: WorkerProcess,
    redis_client: redis.asyncio.Redis,
    settings: Settings,
    tmp_path: Path,
) -> None:
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"t": 1, "f": "notify", "a": [_Exploit(marker)], "k": {}, "et": 0})
    await redis_client.set(keys.job("evil"), payload)
    await redis_client.zadd(settings.queue_name, {"evil": time.time() * 1000})

    body = await wait_for_status(api, "evil", {"failed", "complete"})

    assert body["status"] == "failed"
    assert body["error"]["type"] == "DeserializationError"
    assert not marker.exists()


async def test_a_pickled_result_is_not_unpickled_by_the_api(
    api: httpx.AsyncClient, redis_client: redis.asyncio.Redis, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    await redis_client.set(keys.result("evil"), pickle.dumps({"r": _Exploit(marker)}))

    response = await api.get("/jobs/evil")

    assert response.status_code == 200
    assert response.json()["status"] == "failed"
    assert response.json()["error"]["type"] == "DeserializationError"
    assert not marker.exists()


async def test_a_job_whose_function_no_longer_exists_fails_with_a_clear_error(
    api: httpx.AsyncClient, worker: WorkerProcess, settings: Settings
) -> None:
    pool = create_api_redis(settings)
    queued = await pool.enqueue_job("function_removed_in_last_deploy", 1)
    await pool.aclose()
    assert queued is not None

    body = await wait_for_status(api, queued.job_id, {"failed", "complete"})

    assert body["status"] == "failed"
    assert "function_removed_in_last_deploy" in body["error"]["message"]
