"""A worker pool that rides out a Redis outage, however long, and never holds up a stop.

redis-py retries a command whose connection fails, but not the moment a connection is taken from the
pool (a Redis that is shutting down or starting resets the handshake), and never a read between WATCH
and EXEC. Either error would escape arq's poll loop and end the worker. Here:

- taking a connection, a plain command, and a pipeline that is not watching are retried with backoff
  capped at `RECONNECT_CAP_SECONDS`, for as long as Redis is away: the worker waits for it, it does not
  exit. This is the one retry layer: the pool's own redis-py retry is a single immediate reconnect
  (connection.py), so the two never multiply. Each outage is logged once as it starts and once as it
  ends (`Reconnect`), not once per attempt;
- once arq has stopped the worker's main loop (SIGTERM or SIGINT cancel its `Worker.main` task), a
  failing call is no longer retried: arq's `close()` and our `on_shutdown` get one attempt each, so a
  stop takes seconds whatever the state of Redis. A plain command that fails then is logged and
  skipped (arq's own `close()` deletes its health key and would otherwise raise); a pipeline raises;
- arq claims a job with WATCH, EXISTS, ZSCORE, MULTI, EXEC. A read that loses its connection mid-watch
  reconnects and answers, and the transaction is doomed instead: its EXEC raises `WatchError`, which
  arq already treats as "claimed elsewhere", so the job is picked up on a later poll. No claim can
  succeed on reads the watch did not cover.

Redis can also be there and refuse: a read-only replica (READONLY: a mis-failover, `REPLICAOF`), out of
memory under `noeviction` (OOM), a failing disk (MISCONF), a load (LOADING) or a long script (BUSY). Those
error replies are outages too (`is_outage`), retried the same way until Redis takes writes again; a
command they refuse has not run (a transaction is aborted whole, EXECABORT; a Lua script that declares
its writes, `#!lua`, is refused before it starts), so its retry runs it once. Any other error reply is a
bug, raised at once.

A retried MULTI/EXEC whose reply was lost may have run: arq's are idempotent except its try counter,
which can then count one try too many. `tests/internals/test_reconnect.py` pins how arq runs its
main loop, the one fact the stop relies on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import structlog
from arq.connections import ArqRedis
from arq.worker import Worker
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError, ReadOnlyError, ResponseError, WatchError
from redis.exceptions import TimeoutError as RedisTimeoutError

T = TypeVar("T")
RECONNECT_ERRORS = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError)
# Error replies of a Redis that is there but refuses for now (redis-py names some; LOADING is a
# ConnectionError already). The first word of the reply, exactly: BUSYGROUP is not BUSY.
REFUSED_REPLIES = (ReadOnlyError, OutOfMemoryError)
# UNBLOCKED: a BLPOP cut short because the node became a replica.
REFUSED_CODES = frozenset({"MISCONF", "BUSY", "MASTERDOWN", "NOREPLICAS", "UNBLOCKED"})
RECONNECT_CAP_SECONDS = 2.0
RECONNECT_BASE_SECONDS = 0.05

log = structlog.get_logger("jobs.worker")


def is_outage(error: BaseException) -> bool:
    """Redis is away, or there and refusing for now: wait and try again (any other error is raised)."""
    if isinstance(error, RECONNECT_ERRORS + REFUSED_REPLIES):
        return True
    return isinstance(error, ResponseError) and _reply_code(error) in REFUSED_CODES


def _reply_code(error: ResponseError) -> str:
    """The reply's first word, also from a pipeline's error, which redis-py rewrites as
    `Command # 1 (...) of pipeline caused error: ('BUSY Redis is busy ...',)`."""
    _, pipelined, reply = str(error).rpartition(" of pipeline caused error: ")
    text = reply if pipelined else str(error)
    return text.lstrip("('\"").split(" ", 1)[0]


class Reconnect:
    """One pool's retries: whether Redis is away (logged once as an outage starts, once as it ends), and
    whether arq's worker loop still runs (outside a running worker, a call gets one attempt)."""

    def __init__(self) -> None:
        self.down_since: float | None = None
        self._main: asyncio.Task[Any] | None = None

    @property
    def stopping(self) -> bool:
        main = self._main
        return main is None or main.done() or main.cancelling() > 0

    @property
    def worker_stopped(self) -> bool:
        """arq stopped the worker this pool served (not merely: no worker here)."""
        return self._main is not None and self.stopping

    async def call(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """`attempt()`, retried while Redis is away and the worker runs."""
        if self._main is None:
            self._main = next((task for task in asyncio.all_tasks() if _runs_worker_main(task)), None)
        tries = 0
        while True:
            try:
                result = await attempt()
            except Exception as error:
                if self.stopping or not is_outage(error):
                    raise
                self._failed(error)
                await asyncio.sleep(min(RECONNECT_CAP_SECONDS, RECONNECT_BASE_SECONDS * 2 ** min(tries, 8)))
                tries += 1
            else:
                self._ended()
                return result

    def _failed(self, error: BaseException) -> None:
        if self.down_since is None:
            self.down_since = time.monotonic()
            if isinstance(error, RECONNECT_ERRORS):
                log.warning("redis unreachable; retrying until it is back", error=repr(error))
            else:
                log.warning("redis refuses commands; retrying until it takes them", error=repr(error))

    def _ended(self) -> None:
        if self.down_since is not None:
            log.info("redis reachable again", outage_seconds=round(time.monotonic() - self.down_since, 1))
            self.down_since = None


def _runs_worker_main(task: asyncio.Task[Any]) -> bool:
    """The task arq's `Worker.run` makes of `Worker.main()`: its poll loop, cancelled by a stop signal."""
    return getattr(task.get_coro(), "cr_code", None) is Worker.main.__code__


class WatchSafePipeline(Pipeline):
    _doomed = False

    def __init__(self, *args: Any, reconnect: Reconnect, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reconnect = reconnect

    async def immediate_execute_command(self, *args: Any, **options: Any) -> Any:
        run: Callable[..., Awaitable[Any]] = super().immediate_execute_command
        if not self.watching:
            return await self._reconnect.call(lambda: run(*args, **options))
        try:
            return await run(*args, **options)
        except WatchError:  # only raised here when the connection died while watching
            self._doomed = True
            return await self._reconnect.call(lambda: run(*args, **options))

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

        return await self._reconnect.call(attempt)

    async def reset(self) -> None:
        self._doomed = False
        await super().reset()  # type: ignore[no-untyped-call]


class ResilientArqRedis(ArqRedis):
    # How `pipeline()` builds its pipelines; the worker's result tap puts its own (result_tap.py).
    pipeline_factory: Callable[..., WatchSafePipeline] = WatchSafePipeline

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reconnect = Reconnect()
        self.pipeline_options: dict[str, Any] = {}  # more keyword arguments for `pipeline_factory`

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        run: Callable[..., Awaitable[Any]] = super().execute_command
        try:
            return await self.reconnect.call(lambda: run(*args, **options))
        except Exception as error:
            if not self.reconnect.worker_stopped or not is_outage(error):
                raise
            log.warning(
                "redis unreachable while the worker stops; skipped", command=str(args[0]), error=repr(error)
            )
            return None

    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> WatchSafePipeline:
        return self.pipeline_factory(
            self.connection_pool,
            self.response_callbacks,
            transaction,
            shard_hint,
            reconnect=self.reconnect,
            **self.pipeline_options,
        )
