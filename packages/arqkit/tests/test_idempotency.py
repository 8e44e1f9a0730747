"""`Idempotency-Key` on a producer route (`JobQueue.idempotent`): one job per key, a key reused with
another body is a 422, and keys expire."""

from __future__ import annotations

import httpx
import redis.asyncio

from arqkit import keys
from arqkit.testing import wait_for_status
from tests.service.settings import Settings
from tests.support import WorkerProcess

CHARGE = {"amount_cents": 1299, "currency": "EUR"}


async def _charge(api: httpx.AsyncClient, key: str, body: dict[str, object] = CHARGE) -> httpx.Response:
    return await api.post("/charges/c_1", json=body, headers={"Idempotency-Key": key})


async def test_the_same_idempotency_key_returns_the_same_job_before_and_after_it_ran(
    api: httpx.AsyncClient, worker: WorkerProcess
) -> None:
    first = await _charge(api, "key-1")
    second = await _charge(api, "key-1")
    await wait_for_status(api, first.json()["job_id"], {"complete"})
    after_completion = await _charge(api, "key-1")

    assert first.status_code == second.status_code == after_completion.status_code == 202
    assert first.json()["job_id"] == second.json()["job_id"] == after_completion.json()["job_id"]


async def test_the_same_idempotency_key_with_a_different_body_is_422(api: httpx.AsyncClient) -> None:
    await _charge(api, "key-1")

    response = await _charge(api, "key-1", {"amount_cents": 999_999, "currency": "EUR"})

    assert response.status_code == 422
    [error] = response.json()["detail"]  # FastAPI's 422 shape, like every other 422
    assert error["loc"] == ["header", "Idempotency-Key"]
    assert "different body" in error["msg"]


async def test_idempotency_keys_expire_after_the_configured_time(
    api: httpx.AsyncClient, redis_client: redis.asyncio.Redis, settings: Settings
) -> None:
    await _charge(api, "key-ttl")

    [record] = [key async for key in redis_client.scan_iter(match=keys.idempotency("*", "*"))]
    ttl = await redis_client.ttl(record)

    assert settings.idempotency_ttl_seconds - 5 <= ttl <= settings.idempotency_ttl_seconds
