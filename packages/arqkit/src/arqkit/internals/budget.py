"""The API's pool keeps to the request's time budget (`arqkit/deadline.py`) at every wait.

A frozen Redis makes three kinds of wait, each of which must stop at the deadline: taking a connection
from the pool (redis-py 5 holds the pool's lock while a new connection connects, so one stuck connect
holds up every other caller), and each write and read on a connection. redis-py builds every new
connection from `ConnectionPool.connection_class` and takes them through `get_connection` (both pinned in
tests/internals/test_arq_contract.py); this pool wraps both, keeping whichever connection class the
URL chose (TCP, TLS, unix socket, or a sentinel-managed one, whose connect asks the sentinels first).
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

        async def get_connection(self, *args: Any, **kwargs: Any) -> AbstractConnection:
            async with within_budget():
                connection: AbstractConnection = await super().get_connection(*args, **kwargs)
            return connection

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
