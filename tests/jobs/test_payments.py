"""Charging a payment (`jobs/tasks/payments.py`, `POST /payments/{id}/charge`): one charge per payment, even
when the job runs twice. The Idempotency-Key machinery itself is arqkit's, tested there."""

from __future__ import annotations

import httpx
import orjson
from arqkit.testing import JobKit, WorkerProcess, wait_for_status

from jobs import keys as app_keys

CHARGE = {"amount_cents": 1299, "currency": "EUR"}


async def _charge(api: httpx.AsyncClient, key: str) -> httpx.Response:
    return await api.post("/payments/pay_1/charge", json=CHARGE, headers={"Idempotency-Key": key})


async def test_payment_is_charged_once_even_when_charged_under_two_keys(
    api: httpx.AsyncClient, worker: WorkerProcess, job_kit: JobKit
) -> None:
    first = (await _charge(api, "key-a")).json()["job_id"]
    second = (await _charge(api, "key-b")).json()["job_id"]
    assert first != second

    results = [(await wait_for_status(api, job, {"complete"}))["result"] for job in (first, second)]

    assert sorted(r["already_charged"] for r in results) == [False, True]
    record = orjson.loads(await job_kit.queue.redis.get(app_keys.payment_charge("pay_1")))
    assert record["job_id"] in (first, second)
    assert results[0]["charge"] == results[1]["charge"] == record


async def test_charge_without_idempotency_key_is_422(api: httpx.AsyncClient) -> None:
    response = await api.post("/payments/pay_1/charge", json=CHARGE)

    assert response.status_code == 422
    assert "Idempotency-Key" in response.text
