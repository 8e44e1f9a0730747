"""The processes a benchmark runs beside itself: uvicorn, arq workers, and which core each may use."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import redis

from devtools.http_service import http_service

ROOT = Path(__file__).resolve().parent.parent
SERVER_CORE = 0  # the API (or the worker) under test
LOAD_CORE = 1  # the load generator and the benchmark's redis-server (bench/run.py pins it)


def pinned(command: list[str], core: int) -> list[str]:
    """The command kept on one core (taskset, so its threads are too), when the machine has more than one."""
    if (os.cpu_count() or 1) > 1 and shutil.which("taskset"):
        return ["taskset", "-c", str(core), *command]
    return command


def environment(redis_url: str, overrides: Mapping[str, str]) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "LOG_", "RATE_LIMIT", "WORKER_"))
    }
    return {**env, "REDIS_URL": redis_url, "LOG_FORMAT": "json", "LOG_LEVEL": "INFO", **overrides}


@contextmanager
def api_server(redis_url: str, port: int, overrides: Mapping[str, str]) -> Iterator[str]:
    """`uvicorn bench.app:app`, one process with uvloop and httptools, its logs to /dev/null."""
    command = [sys.executable, "-m", "uvicorn", "bench.app:app", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"]
    with http_service(
        pinned(command, SERVER_CORE), port, cwd=ROOT, env=environment(redis_url, overrides)
    ) as url:
        yield url


@contextmanager
def worker(redis_url: str, target: str, overrides: Mapping[str, str] | None = None) -> Iterator[None]:
    """`arq bench.workers.<target>` until its health key is written (its first poll is done)."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "arq",
            f"bench.workers.{target}",
        ],  # not pinned: no load generator to keep apart
        cwd=ROOT,
        env=environment(redis_url, overrides or {}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + 30
        while not client.keys("*health-check*"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker {target} did not start (exit code {process.poll()})")
            time.sleep(0.05)
        yield
    finally:
        client.close()
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
