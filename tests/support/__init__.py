"""Test helpers: wait on a condition (never a bare sleep that hopes), run real worker processes, read
`/metrics` as numbers. Worker variants for tests live in `tests/support/workers.py`."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from settings import Settings

ROOT = Path(__file__).resolve().parent.parent.parent
BIN = Path(sys.executable).parent
# How long a waiting test allows a worker or API process to start: its imports alone take seconds on a
# busy 2-core machine running the suite in parallel. A wait ends as soon as its condition holds.
PROCESS_START_SECONDS = 60.0
T = TypeVar("T")


async def wait_for(
    probe: Callable[[], Awaitable[T | None]],
    timeout: float = 10.0,
    interval: float = 0.02,
    what: str = "condition",
) -> T:
    """Poll `probe` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


async def wait_for_status(
    client: httpx.AsyncClient, job_id: str, statuses: set[str], timeout: float = 10.0
) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        body: dict[str, Any] = (await client.get(f"/jobs/{job_id}")).json()
        return body if body.get("status") in statuses else None

    return await wait_for(probe, timeout, what=f"job {job_id} to reach {statuses}")


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a child process these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "EMAIL_", "LOG_"))}
    for name, value in settings.model_dump(mode="json").items():
        if value is None:
            continue
        secret = getattr(settings, name)
        if isinstance(secret, SecretStr):  # admin_token, redis_sentinel_password: dumped as "**********"
            value = secret.get_secret_value()
        env[name.upper()] = value if isinstance(value, str) else json.dumps(value)
    return env


class WorkerProcess:
    """`arq <settings>` as a real child process, logging JSON to a file the test can read."""

    def __init__(
        self,
        settings: Settings,
        log_path: Path,
        target: str = "jobs.WorkerSettings",
        env: dict[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.log_path = log_path
        self.target = target
        self.env = env or {}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        env = {**settings_env(self.settings), "LOG_FORMAT": "json", **self.env}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(BIN / "arq"), self.target], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def log_text(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signum)

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.process is None:
            return None
        self.signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait()


@contextmanager
def serve_api(settings: Settings, log_path: Path, **env: str) -> Iterator[str]:
    """The API as `uvicorn api.main:app` on a free port (a browser or a stream needs a real HTTP server);
    yields its URL once it answers `/healthz`."""
    with serve_api_processes(settings, log_path, 1, **env) as (url, _):
        yield url


@contextmanager
def serve_api_processes(
    settings: Settings, log_path: Path, workers: int, **env: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`uvicorn api.main:app --workers N` (N > 1: a supervisor and N serving processes on one socket);
    yields its URL and the uvicorn process once it answers `/healthz`."""
    from arqkit.redis_server import free_port

    port = free_port()
    command = [str(BIN / "uvicorn"), "api.main:app", "--host", "127.0.0.1", "--port", str(port)]
    if workers > 1:
        command += ["--workers", str(workers)]
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env={**settings_env(settings), **env}, stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(url, process)
        yield url, process
    finally:
        process.terminate()
        process.wait(15)


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (Linux /proc), children first."""
    found: list[int] = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            children = [int(child) for child in (task / "children").read_text().split()]
            found += children
            pending += children
    return found


def processes_holding_connections(pids: list[int], port: int) -> set[int]:
    """Which of `pids` hold an established TCP connection on local `port` (Linux /proc): the processes a
    client's open connections were accepted by."""
    established: set[str] = set()  # socket inodes
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01":  # 01: ESTABLISHED
                established.add(fields[9])
    holders = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").glob("*"):
            try:
                target = os.readlink(fd)
            except OSError:
                continue  # closed meanwhile
            if target.startswith("socket:[") and target[8:-1] in established:
                holders.add(pid)
    return holders


def _wait_until_serving(url: str, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client() as client:
        while time.monotonic() < deadline:
            assert process.poll() is None, "uvicorn exited during startup"
            try:
                if client.get(url + "/healthz", timeout=0.5).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)  # poll again: not listening yet
    raise AssertionError(f"{url} did not start serving within {timeout} s")


Sample = tuple[str, frozenset[tuple[str, str]]]


async def scrape(client: httpx.AsyncClient) -> dict[Sample, float]:
    """`GET /metrics` as {(sample name, labels): value}."""
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict[Sample, float], name: str, **labels: str) -> float:
    """One sample's value; 0 when it is absent (a counter that never moved)."""
    return samples.get((name, frozenset(labels.items())), 0.0)
