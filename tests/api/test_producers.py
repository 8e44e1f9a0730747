"""The example routes (`api/routes/producers.py`) validate their bodies: a clear 422 with a `detail`,
never a 500, and nothing enqueued."""

from __future__ import annotations

import httpx
import pytest

CASES = [
    ("invalid email", "/signup", {"email": "not-an-email", "name": "A"}),
    ("empty name", "/signup", {"email": "a@example.com", "name": ""}),
    ("blank name", "/signup", {"email": "a@example.com", "name": "   "}),
    ("name too long", "/signup", {"email": "a@example.com", "name": "x" * 101}),
    ("unknown field", "/signup", {"email": "a@example.com", "name": "A", "admin": True}),
    ("month 13", "/reports", {"user_id": 1, "month": "2026-13"}),
    ("month format", "/reports", {"user_id": 1, "month": "2026-1"}),
    ("negative user id", "/reports", {"user_id": -1, "month": "2026-01"}),
    ("user id as text", "/reports", {"user_id": "one", "month": "2026-01"}),
    ("amount 0", "/payments/p1/charge", {"amount_cents": 0, "currency": "EUR"}),
    ("lower-case currency", "/payments/p1/charge", {"amount_cents": 1, "currency": "eur"}),
]


@pytest.mark.parametrize(("path", "body"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_an_invalid_body_is_a_422_with_detail(
    api: httpx.AsyncClient, path: str, body: dict[str, object]
) -> None:
    response = await api.post(path, json=body, headers={"Idempotency-Key": "k"})

    assert response.status_code == 422
    assert response.json()["detail"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/signup", {"email": "ada@example.com", "name": "Ada"}),
        ("/reports", {"user_id": 7, "month": "2026-10"}),
    ],
)
async def test_a_valid_body_is_a_202_with_where_to_look(
    api: httpx.AsyncClient, path: str, body: dict[str, object]
) -> None:
    response = await api.post(path, json=body)

    assert response.status_code == 202
    assert (
        response.headers["location"] == response.json()["status_url"] == f"/jobs/{response.json()['job_id']}"
    )


async def test_an_odd_payment_id_is_4xx(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/payments/a$b/charge", json={"amount_cents": 1, "currency": "EUR"}, headers={"Idempotency-Key": "k"}
    )

    assert response.status_code in (404, 422)
