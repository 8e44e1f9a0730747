"""Which redis-server the run and test commands start: $REDIS_SERVER, else PATH, else a packaged one,
else a one-paragraph message naming what to install. Each branch, with PATH entries and packages hidden."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import redis

from arqkit.redis_server import (
    EMBEDDED_SERVERS,
    REDIS_SERVER_ENV,
    RedisServer,
    RedisServerNotFound,
    embedded_redis_server,
    find_redis_server,
)


@pytest.fixture
def empty_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PATH is one empty directory (no redis-server on it) and REDIS_SERVER is unset."""
    directory = tmp_path / "bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", str(directory))
    monkeypatch.delenv(REDIS_SERVER_ENV, raising=False)
    return directory


@pytest.fixture
def no_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a platform where no package ships a server: importing them finds nothing."""
    for package, _ in EMBEDDED_SERVERS:
        monkeypatch.setitem(sys.modules, package, None)


def _executable(path: Path) -> Path:
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def _packaged_server() -> Path:
    binary = embedded_redis_server()
    if binary is None:
        pytest.skip("no package with a prebuilt server is installed for this platform")
    return binary


def test_the_redis_server_on_path_comes_first(empty_path: Path) -> None:
    on_path = _executable(empty_path / "redis-server")

    assert find_redis_server() == str(on_path)


def test_without_one_on_path_the_packaged_server_is_started_and_serves(empty_path: Path) -> None:
    packaged = _packaged_server()

    binary = find_redis_server()

    assert binary == str(packaged)
    with RedisServer(binary=binary) as server:
        client = redis.Redis.from_url(server.url, decode_responses=True)
        client.set("key", "value")
        assert client.get("key") == "value"
        assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
        client.close()


def test_redis_server_embedded_uses_the_packaged_server_even_with_one_on_path(
    empty_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _executable(empty_path / "redis-server")
    monkeypatch.setenv(REDIS_SERVER_ENV, "embedded")

    assert find_redis_server() == str(_packaged_server())


def test_redis_server_set_to_a_path_wins_over_path(
    empty_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _executable(empty_path / "redis-server")
    chosen = _executable(tmp_path / "my-redis-server")
    monkeypatch.setenv(REDIS_SERVER_ENV, str(chosen))

    assert find_redis_server() == str(chosen)


def test_redis_server_set_to_a_missing_file_is_a_clear_error(
    empty_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(REDIS_SERVER_ENV, str(tmp_path / "nowhere"))

    with pytest.raises(RedisServerNotFound, match="is not an executable file"):
        find_redis_server()


@pytest.mark.usefixtures("no_packages")
def test_with_no_server_anywhere_one_paragraph_names_what_to_install(empty_path: Path) -> None:
    with pytest.raises(RedisServerNotFound) as raised:
        find_redis_server()

    message = str(raised.value)
    assert "\n" not in message
    for remedy in ("apt install redis-server", "brew install redis", "docker run", "REDIS_URL"):
        assert remedy in message
