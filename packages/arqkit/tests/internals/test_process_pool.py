"""`end_process_pool` ends a pool whose call is still running (a private attribute before Python 3.14)."""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor

from arqkit.internals.process_pool import end_process_pool


def test_ending_the_pool_terminates_a_process_that_is_still_running_a_call() -> None:
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    pool.submit(time.sleep, 60)
    processes = list(pool._processes.values())  # the internal this relies on
    assert processes
    deadline = time.monotonic() + 20
    while not any(process.is_alive() for process in processes) and time.monotonic() < deadline:
        time.sleep(0.05)

    started = time.monotonic()
    end_process_pool(pool)
    for process in processes:
        process.join(10)

    assert not any(process.is_alive() for process in processes)
    assert time.monotonic() - started < 10
