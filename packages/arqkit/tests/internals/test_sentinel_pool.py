"""What the sentinel pools rely on in redis-py: a primary that was demoted answers writes with READONLY,
and redis-py's sentinel-managed connection turns that into a connection error and drops the connection,
so the retries that ride out an outage reconnect, and reconnecting asks the sentinels again."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError

from arqkit import lua
from arqkit.internals.budget import budgeted_pool
from arqkit.internals.sentinel import SentinelPool
from arqkit.redis_server import RedisServer


@pytest.fixture
def replica() -> Iterator[RedisServer]:
    with (
        RedisServer() as primary,
        RedisServer(extra_args=["--replicaof", "127.0.0.1", str(primary.port)]) as node,
    ):
        yield node


@pytest.mark.parametrize("pool_class", [SentinelConnectionPool, SentinelPool, budgeted_pool(SentinelPool)])
async def test_a_write_to_a_demoted_primary_is_a_connection_error_that_drops_the_connection(
    replica: RedisServer, pool_class: type[SentinelConnectionPool]
) -> None:
    options = {} if pool_class is SentinelConnectionPool else {"recheck_seconds": 1.0}
    pool = pool_class("mymaster", Sentinel([]), is_master=True, **options)  # type: ignore[no-untyped-call]
    connection = pool.make_connection()  # type: ignore[no-untyped-call]
    await connection.connect_to(("127.0.0.1", replica.port))  # as if the sentinels still named it

    enqueue_script = lua.source("enqueue")
    await connection.send_command(
        "EVAL", enqueue_script, 4, "job", "result", "queue", "wake", "id", "{}", 0, 1, 1
    )
    with pytest.raises(RedisConnectionError, match="now a slave"):
        await connection.read_response()

    assert not connection.is_connected
    await pool.disconnect()
