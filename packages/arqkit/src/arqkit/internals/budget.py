"""The API's pool keeps to the request's time budget (`arqkit/deadline.py`) at every wait.

A frozen Redis makes three kinds of wait, each of which must stop at the deadline: taking a connection
from the pool while a new connection connects (redis-py 5 holds the pool's lock meanwhile, so one stuck
connect holds up every other caller), and each write and read on a connection. Waiting for the lock
behind other callers' checkouts of live connections is not Redis's silence and is not counted.

redis-py builds every new connection from `ConnectionPool.connection_class` and takes them through
`get_connection` (both pinned in tests/internals/test_arq_contract.py); this pool wraps both, keeping
whichever connection class the URL chose (TCP, TLS, unix socket, or a sentinel-managed one, whose
connect asks the sentinels first).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from redis.asyncio import ConnectionPool
from redis.asyncio.connection import AbstractConnection

from arqkit.deadline import BudgetExhausted, answered, within_budget

PoolT = TypeVar("PoolT", bound=ConnectionPool)


def budgeted_pool(pool_class: type[PoolT]) -> type[PoolT]:
    """`pool_class`, whose checkouts and connections keep to the current request's budget."""

    class Budgeted(pool_class):  # type: ignore[valid-type,misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.connection_class: type[AbstractConnection] = budgeted(self.connection_class)
            self.connecting = 0  # new connections being connected, under the pool's lock

        async def get_connection(self, *args: Any, **kwargs: Any) -> AbstractConnection:
            """The budget bounds the wait for the pool's lock only while a connect holds it (a silent
            Redis would hold every caller behind it). Behind other callers' checkouts of connected
            connections the wait is for this process's event loop, not for Redis: not counted, or a crowd
            of long polls made every other request a 503 while Redis answered at once. That wait is still
            bounded: each connect ahead of it keeps to its own request's budget."""
            connection: AbstractConnection
            if not self.connecting:
                connection = await super().get_connection(*args, **kwargs)
                return connection
            async with within_budget():
                connection = await super().get_connection(*args, **kwargs)
            return connection

        async def ensure_connection(self, connection: AbstractConnection) -> None:
            if connection.is_connected:
                await super().ensure_connection(connection)
                return
            self.connecting += 1
            try:
                await super().ensure_connection(connection)
            finally:
                self.connecting -= 1

    Budgeted.__name__ = Budgeted.__qualname__ = f"Budgeted{pool_class.__name__}"
    return Budgeted


def budgeted(connection_class: type[AbstractConnection]) -> type[AbstractConnection]:
    """`connection_class`, with its connect, writes and reads bounded by the current request's budget."""

    class Budgeted(connection_class):  # type: ignore[valid-type,misc]
        async def connect(self, *args: Any, **kwargs: Any) -> None:
            async with self._budget():
                await super().connect(*args, **kwargs)

        async def send_packed_command(self, *args: Any, **kwargs: Any) -> None:
            async with self._budget():
                await super().send_packed_command(*args, **kwargs)

        async def read_response(self, *args: Any, **kwargs: Any) -> Any:
            async with self._budget():
                response = await super().read_response(*args, **kwargs)
            answered()
            return response

        @asynccontextmanager
        async def _budget(self) -> AsyncIterator[None]:
            """A connection cut off mid-exchange is dropped: an answer left unread must never reach the
            next command on it (redis-py drops it only for the errors it retries)."""
            try:
                async with within_budget():
                    yield
            except BudgetExhausted:
                await self.disconnect(nowait=True)
                raise

    Budgeted.__name__ = Budgeted.__qualname__ = f"Budgeted{connection_class.__name__}"
    return Budgeted


BudgetedConnectionPool = budgeted_pool(ConnectionPool)
