"""Test helpers: the fixture service's worker processes and API under uvicorn, child HTTP services,
`/metrics` as numbers. `wait_for`, `wait_for_status` and `settings_env` are the testing kit's
(`arqkit.testing`); worker variants for tests live in `tests/support/workers.py`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx
from prometheus_client.parser import text_string_to_metric_families

from arqkit import testing
from arqkit.redis_server import free_port
from arqkit.settings import QueueSettings
from arqkit.testing import descendants, settings_env, wait_for, wait_for_status
from tests.service.settings import Settings

ROOT = Path(__file__).resolve().parent.parent.parent  # packages/arqkit: every child process runs here
BIN = Path(sys.executable).parent
SERVICE_WORKER = "tests.service.worker.WorkerSettings"
# How long a waiting test allows a worker or API process to start: its imports alone take seconds on a
# busy 2-core machine running the suite in parallel. A wait ends as soon as its condition holds.
PROCESS_START_SECONDS = 60.0

__all__ = [
    "BIN",
    "ROOT",
    "WorkerProcess",
    "descendants",
    "http_service",
    "serve_api",
    "settings_env",
    "wait_for",
    "wait_for_status",
]


class WorkerProcess(testing.WorkerProcess):
    """A worker of the fixture service (or of `target`), run from the package's root."""

    def __init__(
        self,
        settings: QueueSettings,
        log_path: Path,
        target: str = SERVICE_WORKER,
        env: dict[str, str] | None = None,
    ) -> None:
        super().__init__(settings, log_path, target, env=env, cwd=ROOT)


@contextmanager
def http_service(
    command: list[str], port: int, *, env: Mapping[str, str] | None = None, log: IO[bytes] | None = None
) -> Iterator[str]:
    """Run `command` (which serves `/healthz` on `port`) from the package's root; yield its base URL once
    it answers, stop it after."""
    with _serving(command, port, env, log) as (url, _):
        yield url


@contextmanager
def serve_api(settings: Settings, log_path: Path, **env: str) -> Iterator[str]:
    """The API as `uvicorn tests.service.app:app` on a free port (a browser or a stream needs a real HTTP
    server); yields its URL once it answers `/healthz`."""
    with serve_api_processes(settings, log_path, 1, **env) as (url, _):
        yield url


@contextmanager
def serve_api_processes(
    settings: Settings, log_path: Path, workers: int, **env: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`uvicorn tests.service.app:app --workers N` (N > 1: a supervisor and N serving processes on one
    socket); yields its URL and the uvicorn process once it answers `/healthz`."""
    port = free_port()
    command = [str(BIN / "uvicorn"), "tests.service.app:app", "--host", "127.0.0.1", "--port", str(port)]
    if workers > 1:
        command += ["--workers", str(workers)]
    with (
        log_path.open("ab") as log,
        _serving(command, port, {**settings_env(settings), **env}, log) as served,
    ):
        yield served


@contextmanager
def _serving(
    command: list[str], port: int, env: Mapping[str, str] | None, log: IO[bytes] | None, timeout: float = 30.0
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    output = log if log is not None else subprocess.DEVNULL
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(url, process, timeout)
        yield url, process
    finally:
        process.terminate()
        process.wait(15)


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
            assert process.poll() is None, f"{process.args!r} exited during startup"
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
