"""What every peer's app and worker share, so only the queue library differs between them.

Imports nothing but pydantic and the standard library: each peer's venv has those. The jobs record
what the harness reads in a file (`BENCH_EVENTS`), never in Redis, so recording costs every library
the same and adds no Redis command.
"""

from __future__ import annotations

import os
import threading
import time

from pydantic import BaseModel, EmailStr, Field

from bench.peers import callgrind

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
SLEEP_SECONDS = 600.0  # the crash job: far longer than any recovery the harness waits for


class SignupIn(BaseModel):
    """The body every enqueue endpoint validates, the template's `POST /signup` included."""

    email: EmailStr
    name: str = Field(min_length=1, max_length=100)


class _Drain:
    """Counts no-op jobs in this process; writes the first start and the Nth finish to the events file."""

    def __init__(self) -> None:
        self.lock = threading.Lock()  # Celery's thread pool runs jobs on many threads
        self.count = 0
        self.path = os.environ.get("BENCH_EVENTS")
        self.target = int(os.environ.get("BENCH_DRAIN_JOBS", "0"))

    def job_done(self, started: float) -> None:
        if self.path is None or self.target <= 0:
            return
        with self.lock:
            self.count += 1
            if self.count == 1:
                callgrind.start()  # under bench/counts.py: count from the first job on
                _append(self.path, f"first {started:.6f}")
            if self.count == self.target:
                callgrind.stop()  # ... to the target's: the count is dumped before "done" is written
                _append(self.path, f"done {time.time():.6f} {os.getpid()}")


class _Ticks:
    """One byte per no-op job, appended to `BENCH_TICKS` (a file all worker processes share): how
    bench/counts.py knows that several workers together finished a queue, without a Redis command."""

    def __init__(self) -> None:
        path = os.environ.get("BENCH_TICKS")
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT) if path else None

    def tick(self) -> None:
        if self.fd is not None:
            os.write(self.fd, b".")


DRAIN = _Drain()
TICKS = _Ticks()
if os.environ.get("BENCH_READY"):  # bench/counts.py: this worker process has imported its jobs
    _append_ready = os.open(os.environ["BENCH_READY"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(_append_ready, f"{os.getpid()}\n".encode())
    os.close(_append_ready)


def noop_job() -> None:
    """The body of every library's no-op job."""
    DRAIN.job_done(time.time())
    TICKS.tick()


def record_start() -> None:
    """The crash job's first line: one event per start, with this process's id."""
    path = os.environ.get("BENCH_EVENTS")
    if path is not None:
        _append(path, f"start {time.time():.6f} {os.getpid()}")


def _append(path: str, line: str) -> None:
    with open(path, "a") as events:
        events.write(line + "\n")
