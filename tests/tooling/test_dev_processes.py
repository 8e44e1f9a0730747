"""The run command's processes end with it: a closed terminal (SIGHUP) stops them all, and on Linux even a
run command killed outright (SIGKILL) leaves nothing holding its ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from arqkit.redis_server import RedisServer, free_port
from arqkit.testing import descendants

from jobs import WORKER_SETTINGS
from tests.support import ROOT

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads its process tree from /proc")

STARTUP_TIMEOUT_SECONDS = 90.0  # five Python processes starting on a busy 2-core machine
STOP_TIMEOUT_SECONDS = 30.0


@dataclass
class DevRun:
    process: subprocess.Popen[bytes]
    ports: list[int]
    children: list[int]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie has exited: only its parent's wait is missing


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait(condition: str, probe: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {condition}")


@pytest.fixture
def dev_run(redis_server: RedisServer, tmp_path: Path) -> Iterator[DevRun]:
    """`scripts/dev.py` on free ports and the suite's Redis (so it starts none in the checkout's .dev/),
    running until its banner is printed."""
    api_port, mail_port = free_port(), free_port()
    env = {
        **os.environ,
        "_TEMPLATE_BOOTSTRAPPED": "1",  # already in the venv: no `uv sync`
        "REDIS_URL": redis_server.url,
        "JOB_COMPLETION_WAIT_SECONDS": "1",
    }
    env.pop("EMAIL_API_URL", None)
    log = tmp_path / "dev.log"
    command = [sys.executable, "scripts/dev.py", "--api-port", str(api_port), "--mail-port", str(mail_port)]
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    run = DevRun(process, [api_port, mail_port], [])

    def started_or_exited() -> bool:
        return "Press Ctrl-C" in log.read_text() or process.poll() is not None

    try:
        _wait("the banner", started_or_exited, STARTUP_TIMEOUT_SECONDS)
        assert process.poll() is None, log.read_text()
        run.children = descendants(process.pid)
        yield run
    finally:
        for pid in [process.pid, *run.children]:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        process.wait()


def _commands(pids: list[int]) -> list[str]:
    return [Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ") for pid in pids if _alive(pid)]


def test_it_runs_a_worker_for_every_queue(dev_run: DevRun) -> None:
    commands = _commands(dev_run.children)

    for name in WORKER_SETTINGS:
        assert any(command.rstrip().endswith(f"arq jobs.{name}") for command in commands), commands


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGKILL], ids=["closed terminal", "killed"])
def test_when_it_ends_every_process_it_started_ends_and_frees_its_ports(
    dev_run: DevRun, signum: signal.Signals
) -> None:
    dev_run.process.send_signal(signum)

    dev_run.process.wait(STOP_TIMEOUT_SECONDS)
    _wait("its children to exit", lambda: not any(map(_alive, dev_run.children)), STOP_TIMEOUT_SECONDS)
    assert not any(_listening(port) for port in dev_run.ports)
