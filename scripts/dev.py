#!/usr/bin/env python3
"""Run the whole service locally: Redis, a mail sink, the API and a worker. `python3 scripts/dev.py`.

Only the standard library is imported before the venv is ready (the runtime dependencies only, and an
embedded redis-server where a wheel has one: no test or benchmark tools); everything runs as child
processes that are stopped together on Ctrl-C, on SIGTERM, or as soon as one of them dies.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import _bootstrap

if TYPE_CHECKING:
    from arqkit.redis_server import RedisServer

    from settings import Settings

ROOT = _bootstrap.ROOT
HOST = "127.0.0.1"
API_PORT = 8000
MAIL_SINK_PORT = 8025
REDIS_PORT = 6379
STARTUP_TIMEOUT_SECONDS = 30.0
STOP_GRACE_SECONDS = 5.0  # on top of the time a worker is allowed to finish its running jobs


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


class StopRequest:
    """Signal handler that only records the signal: the main loop decides when to shut down."""

    def __init__(self) -> None:
        self.signal_name: str | None = None

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.signal_name = signal.Signals(signum).name


class DevStack:
    """The processes we started, each in its own process group so stopping one stops its children."""

    def __init__(self) -> None:
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.redis: RedisServer | None = None

    def spawn(self, name: str, command: list[str], env: dict[str, str]) -> None:
        self.children[name] = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)

    def first_dead(self) -> str | None:
        """Name of a process that exited although nobody asked it to, if any."""
        for name, child in self.children.items():
            if child.poll() is not None:
                return f"{name} (exit code {child.returncode})"
        if self.redis is not None and not self.redis.running:
            return "redis-server"
        return None

    def stop(self, timeout: float) -> None:
        """SIGTERM every group, wait, SIGKILL what is left; Redis goes last so workers can finish."""
        for child in self.children.values():
            _signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for name, child in self.children.items():
            try:
                child.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                say(f"{name} did not stop within {timeout:.0f} s; killing it")
            _signal_group(child, signal.SIGKILL)  # also ends anything it left behind in its group
            child.wait()
        if self.redis is not None:
            self.redis.stop()


def _signal_group(child: subprocess.Popen[bytes], signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # the whole group is gone already
        os.killpg(child.pid, signum)


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: ignore TIME_WAIT
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def _port_answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((HOST, port)) == 0


def start_redis(stack: DevStack) -> str:
    """Use the Redis at REDIS_URL if it answers, else run our own with AOF on so data survives restarts.

    A `redis+sentinel://` URL names a deployment's Redis: it is used as it is, never stood in for."""
    from arqkit.redis_server import RedisServer, find_redis_server, free_port, redis_answers

    from settings import Settings

    url = Settings().redis_url  # the environment, else .env, as the API and the worker read it
    if Settings().redis_sentinel is not None:
        say("using the primary the sentinels in REDIS_URL name (clients follow its failovers)")
        return url
    if redis_answers(url):
        say(f"using the Redis at {url}")
        return url
    binary = find_redis_server()  # RedisServerNotFound says what to install
    port = REDIS_PORT if _port_is_free(REDIS_PORT) else free_port()
    data = data_directory(binary)
    say(f"no Redis answers at {url}; starting {binary} on port {port} (data in {data.relative_to(ROOT)})")
    stack.redis = RedisServer(port=port, directory=data, appendonly=True, binary=binary)
    stack.redis.start()
    return stack.redis.url


def data_directory(binary: str) -> Path:
    """Where the dev Redis keeps its AOF: one directory per server (.dev/redis, .dev/valkey), because an
    older redis-server cannot read the files Valkey 8 writes (RDB format 11)."""
    name = Path(binary).name.removesuffix("-server")
    return ROOT / ".dev" / (name if name in ("redis", "valkey") else "redis")


def start_redis_or_explain(stack: DevStack) -> str | None:
    """`start_redis`, or None after saying why not: no redis-server (what to install), or it would not start
    (its log)."""
    try:
        return start_redis(stack)
    except RuntimeError as error:  # RedisServerNotFound, or the server exited: never a traceback
        print(f"\n{error}\n", file=sys.stderr, flush=True)
        return None


def start_services(stack: DevStack, redis_url: str) -> None:
    bin_dir = Path(sys.prefix) / "bin"
    env = {**os.environ, "REDIS_URL": redis_url, "PYTHONUNBUFFERED": "1"}
    env.setdefault("EMAIL_API_URL", f"http://{HOST}:{MAIL_SINK_PORT}/send")
    listen = ["--host", HOST, "--port"]
    stack.spawn("mail sink", [sys.executable, "-m", "devtools.mailsink", *listen, str(MAIL_SINK_PORT)], env)
    api = [str(bin_dir / "uvicorn"), "api.main:app", "--no-proxy-headers", *listen, str(API_PORT)]
    stack.spawn("api", api, env)  # --no-proxy-headers: TRUSTED_PROXIES alone decides whom to believe
    stack.spawn("worker", [str(bin_dir / "arq"), "jobs.WorkerSettings"], env)


def wait_until_listening(stack: DevStack, stop: StopRequest, ports: list[int]) -> str | None:
    """Wait for the HTTP servers to accept connections; return why not if a process died first."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not all(_port_answers(port) for port in ports):
        if (dead := stack.first_dead()) is not None:
            return dead
        if stop.signal_name is not None:
            return None
        if time.monotonic() > deadline:
            return f"ports {ports} not listening after {STARTUP_TIMEOUT_SECONDS:.0f} s"
        time.sleep(0.1)
    return None


def admin_sign_in(settings: Settings) -> str:
    """How to sign in to /admin: the token itself while it is the development default (it is no secret:
    production refuses it), else only where it comes from."""
    from arqkit.settings import DEFAULT_ADMIN_TOKEN

    if settings.admin_token.get_secret_value() == DEFAULT_ADMIN_TOKEN:
        return f"sign in with the development token: {DEFAULT_ADMIN_TOKEN}  (ADMIN_TOKEN in .env changes it)"
    return "sign in with your ADMIN_TOKEN (from .env or the environment)"


def print_urls(redis_url: str) -> None:
    from settings import Settings  # read afresh: the same environment and .env the API reads

    api = f"http://{HOST}:{API_PORT}"
    print(
        f"""
  API          {api}
  API docs     {api}/docs
  Job status   {api}/jobs/<job_id>
  Admin        {api}/admin
               {admin_sign_in(Settings())}
  Mail sink    http://{HOST}:{MAIL_SINK_PORT}/_control/deliveries
  Redis        {redis_url}

Press Ctrl-C to stop everything.
""",
        flush=True,
    )


def supervise(stack: DevStack, stop: StopRequest) -> int:
    """Start everything, then watch: 0 after Ctrl-C or SIGTERM, 1 if a process dies on its own."""
    busy = [port for port in (MAIL_SINK_PORT, API_PORT) if not _port_is_free(port)]
    if busy:
        say(f"port {' and '.join(map(str, busy))} already in use (is another dev.py running?)")
        return 1
    redis_url = start_redis_or_explain(stack)
    if redis_url is None:
        return 1
    if stop.signal_name is None:
        start_services(stack, redis_url)
        failure = wait_until_listening(stack, stop, [MAIL_SINK_PORT, API_PORT])
        if failure is not None:
            say(f"{failure} during startup; stopping everything")
            return 1
        if stop.signal_name is None:
            print_urls(redis_url)
    while stop.signal_name is None:
        if (dead := stack.first_dead()) is not None:
            say(f"{dead} stopped unexpectedly; stopping everything")
            return 1
        time.sleep(0.2)
    say(f"{stop.signal_name} received; stopping")
    return 0


def stop_timeout() -> float:
    """How long to wait for children on shutdown: a worker may take its configured time for running jobs."""
    from settings import get_settings

    return get_settings().job_completion_wait_seconds + STOP_GRACE_SECONDS


def main() -> int:
    _bootstrap.enter_venv(["embedded-redis"], "the runtime dependencies (no test tools)")
    os.chdir(ROOT)
    timeout = stop_timeout()
    stop = StopRequest()
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    stack = DevStack()
    try:
        return supervise(stack, stop)
    finally:
        stack.stop(timeout)
        say("all stopped")


if __name__ == "__main__":
    sys.exit(main())
