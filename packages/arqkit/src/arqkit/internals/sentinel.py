"""Redis behind Sentinel: pools that find the primary through the sentinels and follow it when it moves.

redis-py's `SentinelConnectionPool` asks the sentinels only when a connection connects, and its asyncio
pool hands a connection back out wherever it is connected. After a failover in which the old primary
stays up (a manual failover, a network partition), a busy pool would keep writing to it until the
sentinels demote it, seconds later, and those writes are then dropped; a worker could even read the
queue on one node and the job on the other ("expired"). So `SentinelPool` asks the sentinels at most
every `REDIS_SENTINEL_RECHECK_SECONDS` as it hands out a connection (redis-py then drops the idle ones
to a former primary), and drops a connection to any other node when it is given back.

A write to a demoted primary answers READONLY: redis-py's sentinel-managed connection turns that into a
`ConnectionError` and disconnects, so the retries that ride out an outage reconnect, to the new primary
(tests/internals/test_sentinel_pool.py).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from arq.connections import RedisSettings
from redis import Redis as SyncRedis
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.sentinel import Sentinel as SyncSentinel

from arqkit.settings import QueueSettings, SentinelURL


class SentinelPool(SentinelConnectionPool):
    """The primary's pool: it asks the sentinels where the primary is every `recheck_seconds`."""

    def __init__(self, *args: Any, recheck_seconds: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]
        self.recheck_seconds = recheck_seconds
        self._next_check = 0.0

    async def get_connection(self, *args: Any, **kwargs: Any) -> AbstractConnection:
        if time.monotonic() >= self._next_check:
            self._next_check = time.monotonic() + self.recheck_seconds
            # If it moved, redis-py disconnects the idle connections (they reconnect to the new one). No
            # answer (sentinels away, or no primary right now): the connections we have go on as they can.
            with contextlib.suppress(RedisConnectionError, RedisTimeoutError, OSError):
                await self.get_master_address()  # type: ignore[no-untyped-call]
        connection: AbstractConnection = await super().get_connection(*args, **kwargs)
        return connection

    async def release(self, connection: AbstractConnection) -> None:
        # Busy while the primary moved: it reconnects, to the new one, on its next use. (redis-py's own
        # `owns_connection` cannot tell: in its asyncio pool it raises AttributeError.)
        where = (getattr(connection, "host", None), getattr(connection, "port", None))
        if self.master_address is not None and where != self.master_address:
            await connection.disconnect()
        await super().release(connection)


def sentinel_pool(
    pool_class: type[SentinelPool], url: SentinelURL, settings: QueueSettings, **options: Any
) -> SentinelPool:
    """A pool of `pool_class` for the primary the sentinels at `url` name."""
    sentinels = Sentinel(list(url.sentinels), sentinel_kwargs=_sentinel_options(url, settings))  # type: ignore[no-untyped-call]
    return pool_class(
        url.service_name,
        sentinels,
        recheck_seconds=settings.redis_sentinel_recheck_seconds,
        db=url.db,
        username=url.username,
        password=url.password,
        **_tls(url),
        **options,
    )


def sync_primary(url: SentinelURL, settings: QueueSettings, **options: Any) -> SyncRedis:
    """A blocking client of the primary the sentinels at `url` name (a thread's own connection)."""
    sentinels = SyncSentinel(list(url.sentinels), sentinel_kwargs=_sentinel_options(url, settings))  # type: ignore[no-untyped-call]
    client: SyncRedis = sentinels.master_for(  # type: ignore[no-untyped-call]
        url.service_name, db=url.db, username=url.username, password=url.password, **_tls(url), **options
    )
    return client


class PrimaryFromSentinels(RedisSettings):
    """`arq --check`'s settings on a sentinel URL: arq connects to `host`:`port` as to a plain Redis, and
    they are the primary's, asked of the sentinels as arq reads them. (arq's own `sentinel=True` would
    send the sentinels no password and wait on them without a timeout.) arq reads both once per
    `create_pool`, in `async_check_health` (tests/e2e/test_sentinel_clients.py)."""

    def __init__(self, url: SentinelURL, settings: QueueSettings) -> None:
        super().__init__(database=url.db, username=url.username, password=url.password, ssl=url.tls)
        for name, value in url.tls_options:
            setattr(self, name, value)
        self._url, self._settings = url, settings
        self._primary: tuple[str, int] | None = None

    @property
    def host(self) -> str:
        return self.primary()[0]

    @host.setter
    def host(self, value: object) -> None:
        """RedisSettings' own __init__ sets it: the sentinels' answer wins."""

    @property
    def port(self) -> int:
        return self.primary()[1]

    @port.setter
    def port(self, value: object) -> None:
        """As `host`."""

    def primary(self) -> tuple[str, int]:
        if self._primary is None:
            sentinels = SyncSentinel(  # type: ignore[no-untyped-call]
                list(self._url.sentinels), sentinel_kwargs=_sentinel_options(self._url, self._settings)
            )
            host, port = sentinels.discover_master(self._url.service_name)  # type: ignore[no-untyped-call]
            self._primary = str(host), int(port)
        return self._primary


def _sentinel_options(url: SentinelURL, settings: QueueSettings) -> dict[str, Any]:
    """How to reach a sentinel: short timeouts, and its own password (not the data nodes')."""
    password = settings.redis_sentinel_password
    return {
        "socket_timeout": settings.redis_socket_timeout_seconds,
        "socket_connect_timeout": settings.redis_connect_timeout_seconds,
        "password": (password.get_secret_value() or None) if password is not None else None,
        **_tls(url),
    }


def _tls(url: SentinelURL) -> dict[str, Any]:
    return {"ssl": True, **dict(url.tls_options)} if url.tls else {}
