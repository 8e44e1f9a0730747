"""What the two commands install, and what they say first: uv from the lock (the run command: the runtime
only), and Chromium only after saying what and why, or the browser tests skip with the reason."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.support import ROOT


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"{name}_script", ROOT / "scripts" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def scripts_on_path() -> Iterator[None]:
    sys.path.insert(0, str(ROOT / "scripts"))
    yield
    sys.path.remove(str(ROOT / "scripts"))


@pytest.fixture
def bootstrap(scripts_on_path: None) -> ModuleType:
    return _script("_bootstrap")


@pytest.fixture
def ran() -> list[list[str]]:
    """The commands scripts/test.py would have run."""
    return []


@pytest.fixture
def test_command(
    scripts_on_path: None, ran: list[list[str]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> ModuleType:
    """scripts/test.py with Chromium missing and every command it would run recorded, not run."""
    module = _script("test")
    missing = module.CHROMIUM_TOOL._replace(binary=tmp_path / "no-chromium")
    monkeypatch.setattr(module, "CHROMIUM_TOOL", missing)
    monkeypatch.delenv(module.INSTALL_CHROMIUM_ENV, raising=False)

    def record(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        print(f"RAN {' '.join(command)}", flush=True)
        ran.append(command)
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(module.subprocess, "run", record)
    return module


def _fake_uv(path: Path, version: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho 'uv {version}'\n")
    path.chmod(0o755)
    return path


def test_the_run_command_syncs_the_runtime_and_the_embedded_redis_only(bootstrap: ModuleType) -> None:
    command = bootstrap.sync_command(Path("uv"), ["embedded-redis"])

    assert command[:3] == ["uv", "sync", "--frozen"]
    assert "--no-default-groups" in command
    assert [part for part in command if part.startswith("--group")] == ["--group=embedded-redis"]
    assert "--all-groups" not in command


def test_the_test_command_syncs_every_group_and_extra(bootstrap: ModuleType) -> None:
    command = bootstrap.sync_command(Path("uv"), None)

    assert {"--frozen", "--all-groups", "--all-extras"} <= set(command)


def test_a_recent_uv_on_path_is_used(
    bootstrap: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_path = _fake_uv(tmp_path / "bin" / "uv", "0.13.8")
    monkeypatch.setenv("PATH", str(on_path.parent))

    assert bootstrap.find_uv(tmp_path / "project") == on_path


def test_an_old_uv_on_path_gives_way_to_the_projects_own(
    bootstrap: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(_fake_uv(tmp_path / "bin" / "uv", "0.4.0").parent))
    own = _fake_uv(tmp_path / "project" / ".dev" / "uv" / "bin" / "uv", bootstrap.UV_VERSION)

    assert bootstrap.find_uv(tmp_path / "project") == own


def test_asked_not_to_the_test_command_installs_no_chromium_and_says_the_tests_skip(
    test_command: ModuleType,
    ran: list[list[str]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(test_command.INSTALL_CHROMIUM_ENV, "0")

    test_command.CHROMIUM_TOOL.ensure()

    assert ran == []
    assert "browser tests will skip" in capsys.readouterr().out


def test_not_root_the_test_command_installs_nothing_and_says_how_to(
    test_command: ModuleType,
    ran: list[list[str]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)

    test_command.CHROMIUM_TOOL.ensure()

    assert ran == []
    printed = capsys.readouterr().out
    assert "browser tests will skip" in printed
    assert "sudo apt-get install chromium" in printed


def test_as_root_it_says_what_it_installs_and_why_before_apt_get_runs(
    test_command: ModuleType,
    ran: list[list[str]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(test_command.shutil, "which", lambda name: f"/usr/bin/{name}")

    test_command.CHROMIUM_TOOL.ensure()

    printed = capsys.readouterr().out
    said = printed.partition("RAN ")[0]  # what it printed before the first command ran
    assert "installing the system package `chromium`" in said
    assert "the dashboard's browser tests need it" in said
    assert test_command.INSTALL_CHROMIUM_ENV in said
    assert ran[-1][:3] == ["apt-get", "install", "-y"]
    assert "chromium" in ran[-1]
