"""The worker's transactions leave together: those made in one event-loop turn go out in one write.

arq ends each job with its own MULTI/EXEC (`finish_job`), each on a connection of its own: with many
short jobs finishing at once, the worker spends its time in a socket write and a pool checkout per job.
Here a transaction that is not watching anything (arq's finishes, the abort check, the result tap's
dead letters ride inside them) joins the others made in the same loop turn: one connection, one write of
`MULTI ... EXEC MULTI ... EXEC ...`, each reply parsed by redis-py's own code, as its pipeline would.
Each transaction stays atomic and gets its own answer or error; a lost connection retries those not yet
answered (reconnect.py's rules: while the worker runs, for as long as Redis is away).
`tests/internals/test_transactions.py` pins redis-py's `_execute_transaction` this relies on.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import ConnectionPool
from redis.asyncio.connection import Connection

from arqkit.internals.reconnect import RECONNECT_ERRORS, Reconnect, WatchSafePipeline, is_outage

_MULTI: tuple[Any, ...] = ("MULTI",)
_EXEC: tuple[Any, ...] = ("EXEC",)


def _future() -> asyncio.Future[list[Any]]:
    return asyncio.get_running_loop().create_future()


@dataclass
class _Pending:
    pipe: WatchSafePipeline
    stack: list[Any]
    raise_on_error: bool
    answer: asyncio.Future[list[Any]] = field(default_factory=_future)


class _AlreadySent:
    """The connection as redis-py's transaction code sees it once our write has gone: it only reads."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def pack_commands(self, commands: Any) -> list[bytes]:
        return []

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        return None

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        return await self._connection.read_response(*args, **kwargs)

    async def disconnect(self) -> None:
        await self._connection.disconnect()


class TransactionBatcher:
    """One per pool: the transactions waiting for this loop turn's write."""

    def __init__(self, pool: ConnectionPool, reconnect: Reconnect) -> None:
        self._pool = pool
        self._reconnect = reconnect
        self._pending: list[_Pending] = []

    async def execute(self, pipe: WatchSafePipeline, stack: list[Any], raise_on_error: bool) -> list[Any]:
        item = _Pending(pipe, stack, raise_on_error)
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._flush_soon)
        self._pending.append(item)
        return await item.answer

    def _flush_soon(self) -> None:
        items, self._pending = self._pending, []
        task = asyncio.get_running_loop().create_task(self._flush(items))
        task.add_done_callback(lambda _: None)  # errors go to each item's answer

    async def _flush(self, items: list[_Pending]) -> None:
        try:
            await self._reconnect.call(lambda: self._send([i for i in items if not i.answer.done()]))
        except BaseException as error:
            for item in items:
                if not item.answer.done():
                    item.answer.set_exception(error)
            if not isinstance(error, Exception):
                raise

    async def _send(self, items: list[_Pending]) -> None:
        """Each transaction's answer; one refused whole by an outage reply (READONLY, OOM: EXECABORT) stays
        unanswered and the first such error is raised after the others are read, so `Reconnect` sends
        only those again."""
        refused: Exception | None = None
        connection: Connection = await self._pool.get_connection()
        try:
            commands = [args for item in items for args in (_MULTI, *(a for a, _ in item.stack), _EXEC)]
            await connection.send_packed_command(connection.pack_commands(commands))
            sent = _AlreadySent(connection)
            for item in items:
                try:
                    answer = await item.pipe._execute_transaction(sent, item.stack, item.raise_on_error)  # type: ignore[arg-type]
                except RECONNECT_ERRORS:
                    raise
                except Exception as error:  # this transaction's own error (a WatchError, a ResponseError)
                    if is_outage(error):
                        refused = refused or error
                        continue
                    if not item.answer.done():  # (done: its caller was cancelled, it still ran)
                        item.answer.set_exception(error)
                else:
                    if not item.answer.done():
                        item.answer.set_result(answer)
        except BaseException:
            await connection.disconnect()
            raise
        finally:
            await self._pool.release(connection)
        if refused is not None:
            raise refused


class BatchedTransactionPipeline(WatchSafePipeline):
    """A pipeline whose plain transactions (no WATCH, no script) join the pool's `TransactionBatcher`."""

    def __init__(self, *args: Any, batcher: TransactionBatcher | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._batcher = batcher

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        batchable = self.is_transaction and not self.watching and not self.explicit_transaction
        if self._batcher is None or not batchable or self.scripts or not self.command_stack or self._doomed:
            return await super().execute(raise_on_error)
        stack = self.command_stack
        try:
            return await self._batcher.execute(self, stack, raise_on_error)
        finally:
            await self.reset()
