"""Bad input gets a clear 4xx with a `detail`, never a 500 or a hang."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.service.settings import Settings


async def test_non_json_body_is_422(api: httpx.AsyncClient) -> None:
    response = await api.post("/notify", content=b"{not json", headers={"content-type": "application/json"})

    assert response.status_code == 422
    assert response.json()["detail"]


async def test_body_over_the_limit_is_413(api: httpx.AsyncClient, settings: Settings) -> None:
    big = {"email": "a@example.com", "name": "x" * (settings.max_body_bytes + 1)}

    response = await api.post("/notify", json=big)

    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]


async def test_chunked_body_over_the_limit_is_413(api: httpx.AsyncClient, settings: Settings) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(settings.max_body_bytes // 1000 + 2):
            yield b" " * 1000

    response = await api.post("/notify", content=chunks(), headers={"content-type": "application/json"})

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
