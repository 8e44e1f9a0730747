"""Commands packed by hiredis (`internals/packing.py`): the same bytes as redis-py's packer, the same
`DataError` for what it refuses, and the pools the API and the worker use pack that way."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio
from redis.asyncio.connection import Connection
from redis.exceptions import DataError

from arqkit.internals.connection import create_api_redis, create_worker_redis
from arqkit.internals.packing import hiredis_packing
from tests.service.settings import Settings

COMMANDS: list[tuple[Any, ...]] = [
    ("SET", "k", "v"),
    ("ZADD", b"queue", 1.5, "job"),
    ("EVALSHA", "abc", 2, "k1", "k2", 0.1, 1e-7, 12345678901234567890, -3, 3.0),
    ("CONFIG GET", "maxmemory"),
    (b"CLIENT SETNAME", "é"),
    ("SET", "k", memoryview(b"abc")),
    ("SET", "k", b"x" * 10_000),
]


@pytest.mark.parametrize("command", COMMANDS)
def test_hiredis_packs_the_same_bytes_as_redis_py(command: tuple[Any, ...]) -> None:
    plain, packed = Connection(), hiredis_packing(Connection)()

    assert b"".join(packed.pack_command(*command)) == b"".join(bytes(c) for c in plain.pack_command(*command))
    assert len(packed.pack_command(*command)) == 1  # one buffer, built in C


@pytest.mark.parametrize("value", [True, None, {}, [1]])
def test_what_redis_py_refuses_is_refused_with_its_error(value: Any) -> None:
    with pytest.raises(DataError):
        Connection().pack_command("SET", "k", value)
    with pytest.raises(DataError):
        hiredis_packing(Connection)().pack_command("SET", "k", value)


async def test_the_api_and_worker_pools_pack_with_hiredis_and_talk_to_redis(
    settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    for pool in (create_api_redis(settings), create_worker_redis(settings)):
        try:
            assert type(pool.connection_pool).__name__  # built
            assert pool.connection_pool.connection_class.__name__.startswith("HiredisPacked")
            await pool.set("packed", "é" * 3)
            assert await pool.get("packed") == "ééé".encode()
        finally:
            await pool.aclose()
