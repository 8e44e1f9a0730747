"""The run command (`python3 scripts/dev.py`) tells a new user where the dashboard is and how to sign in."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest

from settings import DEFAULT_ADMIN_TOKEN, Settings
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
