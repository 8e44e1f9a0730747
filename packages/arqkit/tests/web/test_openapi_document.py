"""The OpenAPI document lists every answer each route gives, with one error model and the headers a
client acts on (`Location`, `RateLimit-*`, `Retry-After`)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import redis.asyncio

from arqkit.web.openapi import ErrorBody
from tests.service.app import create_app
from tests.service.settings import Settings

ERROR_MODEL = {"$ref": "#/components/schemas/ErrorBody"}
RATE_LIMIT = {"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"}
ADMIN = {"Authorization": "Bearer test-admin-token"}
CHARGE = {"amount_cents": 100, "currency": "EUR"}
NOTIFY = {"email": "ada@example.com", "name": "Ada"}

EXPECTED = [
    ("post", "/notify", {202, 400, 413, 422, 429, 503}),
    ("post", "/long", {202, 400, 413, 422, 429, 503}),
    ("post", "/charges/{charge_id}", {202, 400, 413, 422, 429, 503}),
    ("get", "/jobs/{job_id}", {200, 404, 422, 429, 503}),
    ("delete", "/jobs/{job_id}", {202, 404, 409, 422, 429, 503}),
    ("get", "/healthz", {200}),
    ("get", "/readyz", {200, 503}),
    ("get", "/metrics", {200, 401, 403, 503}),  # 401/403: METRICS_TOKEN, METRICS_ALLOWED_NETWORKS
    ("get", "/admin/queues", {200, 401, 429, 503}),
    ("get", "/admin/workers", {200, 401, 429, 503}),
    ("get", "/admin/dead-letters", {200, 401, 422, 429, 503}),
    ("post", "/admin/dead-letters/replay", {202, 400, 401, 403, 413, 422, 429, 503}),
    ("post", "/admin/dead-letters/{job_id}/replay", {202, 400, 401, 403, 404, 409, 413, 422, 429, 503}),
    (
        "post",
        "/admin/dead-letters/{job_id}/replay/preview",
        {200, 400, 401, 403, 404, 409, 413, 422, 429, 503},
    ),
    ("get", "/admin/jobs", {200, 401, 422, 429, 503}),
    ("get", "/admin/jobs/{job_id}", {200, 401, 404, 422, 429, 503}),
    ("get", "/admin/dead-letters/window", {200, 401, 422, 429, 503}),
    ("post", "/admin/session", {204, 400, 401, 413, 422, 429, 503}),
    ("get", "/admin/events", {200, 401}),
]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app(Settings(environment="test")).openapi()


def _responses(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    responses: dict[str, Any] = document["paths"][path][method]["responses"]
    return responses


@pytest.mark.parametrize(("method", "path", "codes"), EXPECTED, ids=[f"{m} {p}" for m, p, _ in EXPECTED])
def test_each_route_documents_every_status_it_answers_with(
    document: dict[str, Any], method: str, path: str, codes: set[int]
) -> None:
    assert set(_responses(document, method, path)) == {str(code) for code in codes}


def test_every_error_answer_has_the_one_error_model(document: dict[str, Any]) -> None:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for code, response in operation["responses"].items():
                if int(code) >= 400 and path != "/readyz":  # /readyz's 503 carries its reasons
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == ERROR_MODEL, f"{method} {path} {code}"


@pytest.mark.parametrize("path", ["/notify", "/long", "/charges/{charge_id}"])
def test_a_producer_documents_location_and_the_rate_limit_headers(
    document: dict[str, Any], path: str
) -> None:
    responses = _responses(document, "post", path)

    assert set(responses["202"]["headers"]) == {"Location", *RATE_LIMIT}
    assert set(responses["429"]["headers"]) == {"Retry-After", *RATE_LIMIT}
    assert set(responses["503"]["headers"]) == {"Retry-After"}


def test_the_event_stream_is_documented_as_server_sent_events(document: dict[str, Any]) -> None:
    assert set(_responses(document, "get", "/admin/events")["200"]["content"]) == {"text/event-stream"}


async def test_a_reused_idempotency_key_answers_422_in_the_documented_shape(api: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "key-1"}
    await api.post("/charges/p1", json=CHARGE, headers=headers)

    reused = await api.post("/charges/p1", json={**CHARGE, "amount_cents": 5}, headers=headers)
    invalid = await api.post("/charges/p1", json={**CHARGE, "amount_cents": 0}, headers=headers)

    assert reused.status_code == invalid.status_code == 422
    for response in (reused, invalid):
        body = ErrorBody.model_validate(response.json())
        assert isinstance(body.detail, list)
        assert {"loc", "msg", "type"} <= set(response.json()["detail"][0])


async def test_the_headers_a_producer_sends_are_the_documented_ones(
    document: dict[str, Any], settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    """`redis_client` empties the suite's Redis first: the window starts fresh."""
    limited = settings.model_copy(update={"rate_limit_enabled": True, "rate_limit_notify": "1/minute"})
    app = create_app(limited)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            admitted = await client.post("/notify", json=NOTIFY)
            refused = await client.post("/notify", json=NOTIFY)
    responses = _responses(document, "post", "/notify")

    assert (admitted.status_code, refused.status_code) == (202, 429)
    assert {name.lower() for name in responses["202"]["headers"]} <= set(admitted.headers)
    assert {name.lower() for name in responses["429"]["headers"]} <= set(refused.headers)
    ErrorBody.model_validate(refused.json())
