"""Ending a `ProcessPoolExecutor` whose calls may still run: `shutdown` cannot stop a running call.

`shutdown(wait=False, cancel_futures=True)` drops the calls still waiting, but the pool's processes
finish the ones they run, and the interpreter's exit joins the pool's manager thread, which waits for
them: a worker stopping during a long process job would hang until it ends. Its jobs were cancelled (they
run again elsewhere), so its processes are terminated. Python 3.14 has `terminate_workers()`; before it,
the processes are the pool's private `_processes` (pinned by tests/internals/test_process_pool.py).
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from multiprocessing.process import BaseProcess


def end_process_pool(pool: ProcessPoolExecutor) -> None:
    terminate = getattr(pool, "terminate_workers", None)
    if terminate is not None:
        terminate()
        return
    processes: dict[int, BaseProcess] = getattr(pool, "_processes", None) or {}
    running = list(processes.values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in running:
        if process.is_alive():
            process.terminate()
