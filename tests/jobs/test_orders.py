"""The order fulfilment flow (`POST /orders/{id}/fulfil`): charge, then the receipt and the invoice at
once, then the order marked fulfilled; a real worker process and the mail sink."""

from __future__ import annotations

import httpx
import orjson
from arqkit.testing import JobKit, WorkerProcess, wait_for_status

from jobs import keys

ORDER = {"amount_cents": 1250, "currency": "EUR", "email": "ada@example.com"}


async def test_fulfil_answers_202_with_the_flows_id(api: httpx.AsyncClient) -> None:
    response = await api.post("/orders/o-1/fulfil", json=ORDER)

    assert response.status_code == 202
    body = response.json()
    assert body["job_id"].startswith("flow-")
    assert response.headers["location"] == body["status_url"] == f"/jobs/{body['job_id']}"


async def test_an_order_is_charged_then_receipted_and_invoiced_then_fulfilled(
    api: httpx.AsyncClient, worker: WorkerProcess, sink: httpx.AsyncClient, job_kit: JobKit
) -> None:
    flow_id = (await api.post("/orders/o-2/fulfil", json=ORDER)).json()["job_id"]

    done = await wait_for_status(api, flow_id, {"complete", "failed", "aborted"}, timeout=30)

    assert done["status"] == "complete", done
    steps = [(one["function"], one["stage"], one["status"]) for one in done["steps"]]
    assert steps == [
        ("charge_payment", 1, "complete"),
        ("send_receipt", 2, "complete"),
        ("create_invoice", 2, "complete"),
        ("mark_fulfilled", 3, "complete"),
    ]
    [receipt] = (await sink.get("/_control/deliveries")).json()
    assert (receipt["to"], receipt["subject"]) == ("ada@example.com", "Your receipt for order o-2")
    redis = job_kit.queue.redis
    assert orjson.loads(await redis.get(keys.payment_charge("order-o-2")))["amount_cents"] == 1250
    assert orjson.loads(await redis.get(keys.invoice("o-2")))["currency"] == "EUR"
    assert await redis.exists(keys.order_fulfilled("o-2"))


async def test_fulfilling_the_same_order_twice_answers_the_same_flow(api: httpx.AsyncClient) -> None:
    first = (await api.post("/orders/o-3/fulfil", json=ORDER)).json()["job_id"]
    second = (await api.post("/orders/o-3/fulfil", json=ORDER)).json()["job_id"]
    other = (await api.post("/orders/o-4/fulfil", json=ORDER)).json()["job_id"]

    assert first == second != other


async def test_an_order_without_a_valid_email_is_a_422(api: httpx.AsyncClient) -> None:
    response = await api.post("/orders/o-5/fulfil", json={**ORDER, "email": "not an email"})

    assert response.status_code == 422
    assert "detail" in response.json()
