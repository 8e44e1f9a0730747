"""A worker pool that rides out a Redis restart.

redis-py retries a command whose connection fails, but not the moment a connection is taken from the
pool (a Redis that is shutting down or starting resets the handshake), and never a read between WATCH
and EXEC. Either error would escape arq's poll loop and end the worker. Here:

- taking a connection, a plain command, and a pipeline that is not watching are retried with capped
  backoff for about a minute;
- arq claims a job with WATCH, EXISTS, ZSCORE, MULTI, EXEC. A read that loses its connection mid-watch
  reconnects and answers, and the transaction is doomed instead: its EXEC raises `WatchError`, which
  arq already treats as "claimed elsewhere", so the job is picked up on a later poll. No claim can
  succeed on reads the watch did not cover.

A retried MULTI/EXEC whose reply was lost may have run: arq's are idempotent except its try counter,
which can then count one try too many.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from arq.connections import ArqRedis
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.exceptions import WatchError

T = TypeVar("T")
RECONNECT_ERRORS = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError)
RECONNECT_ATTEMPTS = 40
RECONNECT_CAP_SECONDS = 2.0


async def reconnecting(call: Callable[[], Awaitable[T]]) -> T:
    for attempt in range(RECONNECT_ATTEMPTS):
        try:
            return await call()
        except RECONNECT_ERRORS:
            if attempt == RECONNECT_ATTEMPTS - 1:
                raise
            await asyncio.sleep(min(RECONNECT_CAP_SECONDS, 0.05 * 2**attempt))
    raise AssertionError("unreachable")


class WatchSafePipeline(Pipeline):
    _doomed = False

    async def immediate_execute_command(self, *args: Any, **options: Any) -> Any:
        run: Callable[..., Awaitable[Any]] = super().immediate_execute_command
        if not self.watching:
            return await reconnecting(lambda: run(*args, **options))
        try:
            return await run(*args, **options)
        except WatchError:  # only raised here when the connection died while watching
            self._doomed = True
            return await reconnecting(lambda: run(*args, **options))

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        if self._doomed and not self.explicit_transaction:
            return self.immediate_execute_command(*args, **kwargs)  # reads go on answering until MULTI
        return super().execute_command(*args, **kwargs)

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        if self._doomed:
            await self.reset()
            raise WatchError("the connection was lost while watching; the transaction was not run")
        if self.watching:
            return await super().execute(raise_on_error)
        stack, explicit = list(self.command_stack), self.explicit_transaction

        async def attempt() -> list[Any]:
            self.command_stack, self.explicit_transaction = list(stack), explicit
            result: list[Any] = await super(WatchSafePipeline, self).execute(raise_on_error)
            return result

        return await reconnecting(attempt)

    async def reset(self) -> None:
        self._doomed = False
        await super().reset()  # type: ignore[no-untyped-call]


class ResilientArqRedis(ArqRedis):
    # How `pipeline()` builds its pipelines; the worker's result tap puts its own (result_tap.py).
    pipeline_factory: Callable[..., WatchSafePipeline] = WatchSafePipeline

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        run: Callable[..., Awaitable[Any]] = super().execute_command
        return await reconnecting(lambda: run(*args, **options))

    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> WatchSafePipeline:
        return self.pipeline_factory(self.connection_pool, self.response_callbacks, transaction, shard_hint)
