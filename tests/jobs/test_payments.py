"""Charging a payment: one job per Idempotency-Key, one charge per payment."""

from __future__ import annotations

import httpx
import orjson
import redis.asyncio
from arqkit import keys

from jobs import keys as app_keys
from settings import Settings
from tests.support import WorkerProcess, wait_for_status

CHARGE = {"amount_cents": 1299, "currency": "EUR"}


async def _charge(api: httpx.AsyncClient, key: str, body: dict[str, object] = CHARGE) -> httpx.Response:
    return await api.post("/payments/pay_1/charge", json=body, headers={"Idempotency-Key": key})


async def test_charge_with_same_idempotency_key_returns_same_job(
    api: httpx.AsyncClient, worker: WorkerProcess
) -> None:
    first = await _charge(api, "key-1")
    second = await _charge(api, "key-1")
    await wait_for_status(api, first.json()["job_id"], {"complete"})
    after_completion = await _charge(api, "key-1")

    assert first.status_code == second.status_code == after_completion.status_code == 202
    assert first.json()["job_id"] == second.json()["job_id"] == after_completion.json()["job_id"]


async def test_payment_is_charged_once_even_when_charged_under_two_keys(
    api: httpx.AsyncClient, worker: WorkerProcess, redis_client: redis.asyncio.Redis
) -> None:
    first = (await _charge(api, "key-a")).json()["job_id"]
    second = (await _charge(api, "key-b")).json()["job_id"]
    assert first != second

    results = [(await wait_for_status(api, job, {"complete"}))["result"] for job in (first, second)]

    assert sorted(r["already_charged"] for r in results) == [False, True]
    record = orjson.loads(await redis_client.get(app_keys.payment_charge("pay_1")))
    assert record["job_id"] in (first, second)
    assert results[0]["charge"] == results[1]["charge"] == record


async def test_charge_without_idempotency_key_is_422(api: httpx.AsyncClient) -> None:
    response = await api.post("/payments/pay_1/charge", json=CHARGE)

    assert response.status_code == 422
    assert "Idempotency-Key" in response.text


async def test_same_idempotency_key_with_a_different_body_is_422(api: httpx.AsyncClient) -> None:
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
