"""The dev tools the other tests stand on: the throwaway Redis and the mail sink."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import redis
from arqkit.redis_server import RedisServer, redis_answers

from devtools.mailsink import create_app


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(directory=tmp_path, appendonly=True) as running:
        yield running


def _client(server: RedisServer) -> redis.Redis:
    return redis.Redis.from_url(server.url, decode_responses=True)


def test_starts_answers_and_uses_production_like_settings(server: RedisServer) -> None:
    client = _client(server)
    assert client.ping()
    assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    assert client.config_get("save") == {"save": ""}
    client.close()


def test_restart_keeps_data_with_appendonly(server: RedisServer) -> None:
    _client(server).set("survives", "yes")
    port = server.port

    server.restart()

    assert server.port == port
    assert _client(server).get("survives") == "yes"


def test_kill_makes_it_unreachable_and_start_recovers_the_aof(server: RedisServer) -> None:
    _client(server).set("fsynced", "1")  # appendfsync always: on disk before the reply

    server.kill()
    assert not server.running
    assert not redis_answers(server.url)

    server.start()
    assert _client(server).get("fsynced") == "1"


def test_start_fails_loudly_when_the_port_is_taken(server: RedisServer, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="Address already in use"):
        RedisServer(port=server.port, directory=tmp_path / "second").start()


@pytest.fixture
async def asgi_sink() -> AsyncIterator[httpx.AsyncClient]:
    """The sink app in-process (no server, no port), fresh for each test."""
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://mailsink") as client:
        yield client


def _email(to: str = "ada@example.com") -> dict[str, str]:
    return {"to": to, "subject": "Hello", "body": "Welcome!"}


async def test_send_is_recorded_with_its_idempotency_key(asgi_sink: httpx.AsyncClient) -> None:
    response = await asgi_sink.post("/send", json=_email(), headers={"Idempotency-Key": "k-1"})

    assert response.status_code == 202
    [delivery] = (await asgi_sink.get("/_control/deliveries")).json()
    assert delivery["id"] == response.json()["id"]
    assert delivery["idempotency_key"] == "k-1"
    assert (delivery["to"], delivery["subject"], delivery["body"]) == ("ada@example.com", "Hello", "Welcome!")
    assert delivery["received_at"]


async def test_injected_failures_then_success(asgi_sink: httpx.AsyncClient) -> None:
    await asgi_sink.post("/_control/fail", json={"status": 500, "times": 2})

    statuses = [(await asgi_sink.post("/send", json=_email())).status_code for _ in range(3)]

    assert statuses == [500, 500, 202]
    assert len((await asgi_sink.get("/_control/deliveries")).json()) == 1
    assert (await asgi_sink.get("/_control/attempts")).json() == {"ada@example.com": 3}


async def test_failure_for_one_recipient_with_retry_after(asgi_sink: httpx.AsyncClient) -> None:
    await asgi_sink.post(
        "/_control/fail", json={"status": 429, "times": 1, "to": "bob@example.com", "retry_after": 7}
    )

    other = await asgi_sink.post("/send", json=_email("ada@example.com"))
    limited = await asgi_sink.post("/send", json=_email("bob@example.com"))

    assert other.status_code == 202
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "7"
    deliveries = (await asgi_sink.get("/_control/deliveries", params={"to": "bob@example.com"})).json()
    assert deliveries == []


async def test_reset_forgets_everything(asgi_sink: httpx.AsyncClient) -> None:
    await asgi_sink.post("/send", json=_email())
    await asgi_sink.post("/_control/fail", json={"status": 400, "times": 5})

    assert (await asgi_sink.post("/_control/reset")).status_code == 204

    assert (await asgi_sink.get("/_control/deliveries")).json() == []
    assert (await asgi_sink.get("/_control/attempts")).json() == {}
    assert (await asgi_sink.post("/send", json=_email())).status_code == 202
    assert (await asgi_sink.get("/healthz")).status_code == 200
