"""Under a real uvicorn, `TRUSTED_PROXIES` alone decides whose X-Forwarded-For is believed.

uvicorn's own proxy headers are on by default and believe 127.0.0.1 and ::1: they used to rewrite the
client before the app looked, so a loopback peer could rotate its limit key per request with a forged
header (and a 60 KB header value became a Redis key name). Both ways of starting the API are checked:
bare, as the contract allows, and with `--no-proxy-headers`, as the Dockerfile, compose.yaml and
scripts/dev.py start it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
import redis.asyncio

from arqkit.redis_server import free_port
from tests.service.settings import Settings
from tests.support import BIN, http_service, settings_env

NOTIFY = {"email": "ada@example.com", "name": "Ada"}
STARTS = {"bare": [], "no-proxy-headers": ["--no-proxy-headers"]}


@pytest.fixture(params=STARTS.keys())
def api_url(
    request: pytest.FixtureRequest, settings: Settings, redis_client: redis.asyncio.Redis
) -> Iterator[str]:
    """The API under uvicorn, started one of the documented ways, notifications limited to 5 a minute."""
    limited = settings.model_copy(update={"rate_limit_enabled": True, "rate_limit_notify": "5/minute"})
    port = free_port()
    command = [str(BIN / "uvicorn"), "tests.service.app:app", "--port", str(port), *STARTS[request.param]]
    with http_service(command, port, env=settings_env(limited)) as url:
        yield url


async def test_a_forged_x_forwarded_for_from_a_loopback_peer_does_not_rotate_the_limit_key(
    api_url: str,
) -> None:
    async with httpx.AsyncClient(base_url=api_url) as client:
        responses = [
            await client.post("/notify", json=NOTIFY, headers={"X-Forwarded-For": f"192.0.2.{i}"})
            for i in range(20)
        ]

    assert Counter(r.status_code for r in responses) == {202: 5, 429: 15}


async def test_a_huge_x_forwarded_for_never_becomes_a_redis_key_name(
    api_url: str, redis_client: redis.asyncio.Redis
) -> None:
    async with httpx.AsyncClient(base_url=api_url) as client:
        response = await client.post("/notify", json=NOTIFY, headers={"X-Forwarded-For": "x" * 60_000})

    assert response.status_code < 500
    assert max(len(key) for key in await redis_client.keys("*")) < 200
