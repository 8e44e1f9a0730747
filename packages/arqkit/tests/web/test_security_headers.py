"""Issue 21, finding 9: security headers on every response, `/metrics` restricted by a setting, dead-letter
tracebacks cut to a documented size, and what wrong tokens from one address do to the right one."""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
import redis.asyncio
from pydantic import SecretStr

from arqkit import dead_letters
from arqkit.dead_letters import MAX_TRACEBACK_CHARS, DeadLetter
from tests.service.app import create_app
from tests.service.settings import Settings

ADMIN = {"Authorization": "Bearer test-admin-token"}


async def test_every_response_says_nosniff(api: httpx.AsyncClient) -> None:
    answers = [
        await api.get("/healthz"),
        await api.get("/no-such-route"),
        await api.get("/jobs/unknown-job"),
        await api.post("/notify", json={"email": "not an email"}),
        await api.post("/notify", content=b"x" * 100_000, headers={"content-type": "application/json"}),
        await api.get("/metrics"),
        await api.get("/docs"),
        await api.get("/admin"),
    ]

    assert [a.headers.get("x-content-type-options") for a in answers] == ["nosniff"] * len(answers), [
        a.status_code for a in answers
    ]


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/admin", "/docs/oauth2-redirect"])
async def test_html_pages_have_a_csp_that_allows_only_their_own_scripts(
    api: httpx.AsyncClient, path: str
) -> None:
    page = await api.get(path)
    policy = page.headers["content-security-policy"]
    inline = re.findall(r"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script>", page.text, re.S)

    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    parts = {part.split()[0]: part for part in policy.split(";") if part.strip()}
    script_src = parts.get("script-src", parts["default-src"])  # the dashboard's own: default-src only
    assert "unsafe-inline" not in script_src
    for script in inline:  # Swagger UI's initialisation: allowed by its hash, and only it
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in script_src
    assert int(page.headers["content-length"]) == len(page.content)
    assert len(page.headers.get_list("content-security-policy")) == 1


async def test_json_answers_carry_no_csp(api: httpx.AsyncClient) -> None:
    assert "content-security-policy" not in (await api.get("/healthz")).headers


@asynccontextmanager
async def app_client(
    settings: Settings, address: str = "127.0.0.1", **update: Any
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update=update))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def test_metrics_can_require_a_token(settings: Settings, redis_client: redis.asyncio.Redis) -> None:
    async with app_client(settings, metrics_token=SecretStr("scrape-0123456789")) as client:
        without = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        right = await client.get("/metrics", headers={"Authorization": "Bearer scrape-0123456789"})

    assert (without.status_code, wrong.status_code, right.status_code) == (401, 401, 200)
    assert "redis_up" in right.text


async def test_metrics_can_be_kept_to_networks(settings: Settings, redis_client: redis.asyncio.Redis) -> None:
    networks = ["10.0.0.0/8"]
    async with app_client(settings, "203.0.113.9", metrics_allowed_networks=networks) as outsider:
        refused = await outsider.get("/metrics")
    async with app_client(settings, "10.1.2.3", metrics_allowed_networks=networks) as prometheus:
        served = await prometheus.get("/metrics")

    assert (refused.status_code, served.status_code) == (403, 200)


async def test_metrics_are_open_while_neither_is_set(api: httpx.AsyncClient) -> None:
    assert (await api.get("/metrics")).status_code == 200


async def test_a_dead_letters_traceback_is_cut_to_its_last_8k(
    redis_client: redis.asyncio.Redis, settings: Settings
) -> None:
    frames = (
        "".join(f'  File "jobs/deep.py", line {n}, in f{n}\n' for n in range(2000)) + "ValueError: here\n"
    )
    letter = DeadLetter(
        job_id="deep",
        function="notify",
        queue=settings.queue_name,
        args=[],
        keyword_args={},
        error={"type": "ValueError", "message": "here"},
        tries=1,
        enqueued_at_ms=None,
        failed_at_ms=int(time.time() * 1000),
        traceback=frames,
    )

    await dead_letters.record(redis_client, letter, 10)
    stored = await dead_letters.get(redis_client, "deep")

    assert stored is not None
    assert stored.traceback is not None
    assert MAX_TRACEBACK_CHARS == 8192
    assert len(stored.traceback) <= MAX_TRACEBACK_CHARS + 40 < len(frames)
    assert stored.traceback.endswith("ValueError: here\n")  # the innermost frames are kept
    assert stored.traceback.startswith(f"[{len(frames) - MAX_TRACEBACK_CHARS} characters cut]")


AddressedClient = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]


async def test_an_open_dashboard_session_survives_a_throttled_address(
    settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    """Wrong tokens from an address refuse even the right one from it until the window frees (README:
    a guesser must learn nothing); the operator's open session goes on working meanwhile."""
    async with app_client(settings, "203.0.113.7", admin_auth_failures="3/minute") as shared:
        login = await shared.post("/admin/session", json={"token": "test-admin-token"})
        cookie = login.headers["set-cookie"].split(";", 1)[0]
        for n in range(3):
            await shared.get("/admin/queues", headers={"Authorization": f"Bearer guess-{n}"})
        token_refused = await shared.get("/admin/queues", headers=ADMIN)
        with_session = await shared.get("/admin/queues", headers={"Cookie": cookie})

    assert token_refused.status_code == 429
    assert with_session.status_code == 200
