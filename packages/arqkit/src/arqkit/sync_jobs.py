"""Where a worker runs plain `def` jobs: a bounded set of threads, or a process pool for CPU-bound work.

A `def` job must not run on the event loop: it would stop every other job, the heartbeat and the signal
handlers while it runs. So `@job` on a `def` runs it in a thread (at most `WORKER_SYNC_THREADS` at once per
worker; a job waits for a free one, inside its timeout), and `@job(executor="process")` in a pool of
`WORKER_PROCESSES` processes (spawned at the first such job), where CPU work does not hold the worker's
GIL. The job's retries, timeout, metrics and logs are the wrapper's (`arqkit.job`), as for an async job.

What a timeout, an abort or a shutdown can do: the job's try ends at once (arq cancels the task that
awaits the thread or process), but Python cannot stop a thread, and a pool cannot stop one call: the
thread runs on to the end (`ctx.cancelled` is set, so the job may check it and return) and keeps its
slot until then; a process call runs on too, and is ended with the pool when the worker stops. A call
still waiting for a process is dropped.

Across the process boundary go the function (by module and name: a module-level function), its decoded
arguments and its result, pickled by `concurrent.futures`; what is stored in Redis stays JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import importlib
import multiprocessing
import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Literal

import structlog

from arqkit.context import SyncJobContext
from arqkit.internals.process_pool import end_process_pool
from arqkit.logs import configure_logging
from arqkit.settings import QueueSettings

Executor = Literal["thread", "process"]


class SyncRunner:
    """One worker's threads and processes for `def` jobs; `stop` when the worker stops."""

    def __init__(self, settings: QueueSettings) -> None:
        self.settings = settings
        self._threads = asyncio.Semaphore(settings.worker_sync_threads)
        self._pool: ProcessPoolExecutor | None = None

    async def run(
        self,
        fn: Callable[..., Any],
        executor: Executor,
        ctx: SyncJobContext[Any, Any],
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
    ) -> Any:
        try:
            if executor == "process":
                return await self._in_process(fn, ctx, args, kwargs)
            return await self._in_thread(functools.partial(fn, ctx, *args, **kwargs))
        except asyncio.CancelledError:
            ctx.cancelled.set()  # a timeout, an abort or a shutdown: the job may stop at its next check
            raise

    def stop(self) -> None:
        if self._pool is not None:
            end_process_pool(self._pool)

    async def _in_thread(self, call: Callable[[], Any]) -> Any:
        """`call()` in a daemon thread (one per call: it never keeps a stopping process alive), at most
        `WORKER_SYNC_THREADS` at once; a slot is freed when its thread ends, not when its await stops."""
        await self._threads.acquire()
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = loop.create_future()
        context = contextvars.copy_context()  # the job's log context (job_id, try, ...) in the thread

        def work() -> None:
            result: Any = None
            error: BaseException | None = None
            try:
                result = context.run(call)
            except BaseException as raised:
                error = raised
            with contextlib.suppress(RuntimeError):  # RuntimeError: the loop is closed, the worker stopped
                loop.call_soon_threadsafe(self._settle, done, result, error)

        threading.Thread(target=work, name="arqkit-sync-job", daemon=True).start()
        return await done

    def _settle(self, done: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
        self._threads.release()
        if done.done():  # its await was cancelled
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result)

    async def _in_process(
        self,
        fn: Callable[..., Any],
        ctx: SyncJobContext[Any, Any],
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
    ) -> Any:
        identity = (ctx.job_id, ctx.job_try, ctx.queue, ctx.settings)
        call = self._processes().submit(
            _call_in_child, fn.__module__, fn.__qualname__, identity, args, kwargs
        )
        try:
            return await asyncio.wrap_future(call)
        except asyncio.CancelledError:
            call.cancel()  # not started yet: it never will; started: it runs on (see the module's note)
            raise

    def _processes(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.settings.worker_processes,
                mp_context=multiprocessing.get_context("spawn"),  # no fork of a process with threads
                initializer=_start_child,
                initargs=(self.settings,),
            )
        return self._pool


def _start_child(settings: QueueSettings) -> None:
    """In each pool process: the worker's log format; Ctrl-C in a terminal is the worker's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_logging(settings)


def _call_in_child(
    module: str,
    qualname: str,
    identity: tuple[str, int, str, QueueSettings],
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
) -> Any:
    """In a pool process: find the job's function by name (its module's `@job` name is the definition,
    whose `fn` it is) and call it with a context of its own (no resources: they stay in the worker)."""
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    fn = getattr(target, "fn", target)
    job_id, job_try, queue, settings = identity
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(
        job_id=job_id, function=fn.__name__, queue=queue, **{"try": job_try}
    )
    return fn(SyncJobContext(job_id, job_try, queue, settings, None), *args, **kwargs)
