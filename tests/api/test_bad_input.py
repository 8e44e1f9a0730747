"""Bad input gets a clear 4xx with a `detail`, never a 500 or a hang."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from settings import Settings

CASES = [
    ("invalid email", "/signup", {"email": "not-an-email", "name": "A"}, 422),
    ("empty name", "/signup", {"email": "a@example.com", "name": ""}, 422),
    ("blank name", "/signup", {"email": "a@example.com", "name": "   "}, 422),
    ("name too long", "/signup", {"email": "a@example.com", "name": "x" * 101}, 422),
    ("unknown field", "/signup", {"email": "a@example.com", "name": "A", "admin": True}, 422),
    ("month 13", "/reports", {"user_id": 1, "month": "2026-13"}, 422),
    ("month format", "/reports", {"user_id": 1, "month": "2026-1"}, 422),
    ("negative user id", "/reports", {"user_id": -1, "month": "2026-01"}, 422),
    ("user id as text", "/reports", {"user_id": "one", "month": "2026-01"}, 422),
    ("amount 0", "/payments/p1/charge", {"amount_cents": 0, "currency": "EUR"}, 422),
    ("lower-case currency", "/payments/p1/charge", {"amount_cents": 1, "currency": "eur"}, 422),
]


@pytest.mark.parametrize(("path", "body", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_invalid_body_is_a_4xx_with_detail(
    api: httpx.AsyncClient, path: str, body: dict[str, object], expected: int
) -> None:
    response = await api.post(path, json=body, headers={"Idempotency-Key": "k"})

    assert response.status_code == expected
    assert response.json()["detail"]


async def test_non_json_body_is_422(api: httpx.AsyncClient) -> None:
    response = await api.post("/signup", content=b"{not json", headers={"content-type": "application/json"})

    assert response.status_code == 422
    assert response.json()["detail"]


async def test_body_over_the_limit_is_413(api: httpx.AsyncClient, settings: Settings) -> None:
    big = {"email": "a@example.com", "name": "x" * (settings.max_body_bytes + 1)}

    response = await api.post("/signup", json=big)

    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]


async def test_chunked_body_over_the_limit_is_413(api: httpx.AsyncClient, settings: Settings) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(settings.max_body_bytes // 1000 + 2):
            yield b" " * 1000

    response = await api.post("/signup", content=chunks(), headers={"content-type": "application/json"})

    assert response.status_code == 413


async def test_unknown_job_id_is_404(api: httpx.AsyncClient) -> None:
    response = await api.get("/jobs/0123456789abcdef")

    assert response.status_code == 404
    assert response.json()["detail"]


@pytest.mark.parametrize("job_id", ["a b", "x" * 200, "<script>", "%00", "job;rm"])
async def test_job_id_with_odd_characters_is_404_or_422_never_500(
    api: httpx.AsyncClient, job_id: str
) -> None:
    response = await api.get(f"/jobs/{job_id}")

    assert response.status_code in (404, 422)
    assert response.json()["detail"]


async def test_odd_payment_id_is_4xx(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/payments/a$b/charge", json={"amount_cents": 1, "currency": "EUR"}, headers={"Idempotency-Key": "k"}
    )

    assert response.status_code in (404, 422)
