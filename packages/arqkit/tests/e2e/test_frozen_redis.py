"""A frozen Redis (SIGSTOP: it keeps its sockets and answers nothing) is a 503 within the request budget.

Unlike a stopped Redis, a frozen one refuses nothing: each command used to wait out its socket timeout
and its retries, and `POST /notify` (at the time a rate limit, then an enqueue) hung for 4-10 s,
`/readyz` for ~3 s.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from arqkit.redis_server import RedisServer
from tests.service.app import create_app
from tests.service.settings import Settings

NOTIFY = {"email": "ada@example.com", "name": "Ada"}
BUDGET_SECONDS = 1.0  # production's default; the suite's settings allow more for a busy machine
WITHIN_SECONDS = 1.5


@pytest.fixture
def frozen_redis() -> Iterator[RedisServer]:
    """A Redis of this module's own, to freeze (never the suite's, never the one on 6379)."""
    with RedisServer() as server:
        try:
            yield server
        finally:
            server.thaw()


@pytest.fixture
async def frozen_api(settings: Settings, frozen_redis: RedisServer) -> AsyncIterator[httpx.AsyncClient]:
    """The app with rate limits on (a status poll makes two Redis calls, a notify one: the limit is decided
    in the enqueue's call), its pool connected before the freeze."""
    update = {
        "redis_url": frozen_redis.url,
        "rate_limit_enabled": True,
        "redis_request_budget_seconds": BUDGET_SECONDS,
    }
    limited = settings.model_copy(update=update)
    app = create_app(limited)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=30) as client:
            assert (await client.post("/notify", json=NOTIFY)).status_code == 202
            yield client


async def _timed(client: httpx.AsyncClient, method: str, path: str, **kwargs: object) -> tuple[int, float]:
    started = time.monotonic()
    response = await client.request(method, path, **kwargs)  # type: ignore[arg-type]
    return response.status_code, time.monotonic() - started


@pytest.mark.latency
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("POST", "/notify", NOTIFY), ("GET", "/readyz", None), ("GET", "/jobs/some-job", None)],
)
async def test_a_frozen_redis_is_a_503_within_the_request_budget(
    frozen_api: httpx.AsyncClient, frozen_redis: RedisServer, method: str, path: str, body: object
) -> None:
    frozen_redis.freeze()

    status, elapsed = await _timed(frozen_api, method, path, json=body)

    assert status == 503
    assert elapsed < WITHIN_SECONDS, f"took {elapsed:.2f} s"


async def test_after_a_freeze_the_api_serves_again_on_fresh_connections(
    frozen_api: httpx.AsyncClient, frozen_redis: RedisServer
) -> None:
    frozen_redis.freeze()
    for _ in range(3):  # cut off mid-answer: each connection must be dropped, not reused out of step
        await frozen_api.post("/notify", json=NOTIFY)
    frozen_redis.thaw()

    responses = [await frozen_api.post("/notify", json=NOTIFY) for _ in range(3)]

    assert [r.status_code for r in responses] == [202, 202, 202]
    assert len({r.json()["job_id"] for r in responses}) == 3
