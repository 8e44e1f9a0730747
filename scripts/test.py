#!/usr/bin/env python3
"""Run every check CI runs, in order, stopping at the first failure. `python3 scripts/test.py [pytest args]`.

Extra arguments go to pytest. The tests start their own throwaway redis-server on a free port, so
this never touches a Redis you may have running on 6379.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import _bootstrap

# The machinery's package: its own mypy and pytest configuration and tests, run from its folder.
PACKAGE = _bootstrap.ROOT / "packages" / "arqkit"


def steps(pytest_args: list[str]) -> list[tuple[str, list[str], Path]]:
    """Cheapest first, so a lint error fails in seconds rather than after the test suite. With pytest
    arguments, only the service's pytest runs them; the package's tests run in the full run."""
    python = sys.executable
    root = _bootstrap.ROOT
    package_tests = [] if pytest_args else [("pytest (packages/arqkit)", [python, "-m", "pytest"], PACKAGE)]
    return [
        ("ruff check", [python, "-m", "ruff", "check", "."], root),
        ("ruff format --check", [python, "-m", "ruff", "format", "--check", "."], root),
        ("mypy", [python, "-m", "mypy"], root),  # which files, and how strictly: pyproject.toml
        ("mypy (packages/arqkit)", [python, "-m", "mypy"], PACKAGE),  # its own pyproject.toml
        ("pytest", [python, "-m", "pytest", *pytest_args], root),
        *package_tests,
    ]


# The dashboard's browser tests (tests/api/test_dashboard*_browser.py) drive Debian's Chromium through
# playwright, which never downloads a browser of its own.
CHROMIUM = Path("/usr/bin/chromium")
INSTALL_CHROMIUM_ENV = "TEST_INSTALL_CHROMIUM"  # "0": never install it; the browser tests skip


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def ensure_chromium() -> None:
    """Install Chromium with apt-get when it is missing and we are root, saying so first; else say that
    the browser tests will skip and how to have them run."""
    if CHROMIUM.exists():
        return
    if os.environ.get(INSTALL_CHROMIUM_ENV) == "0":
        say(f"no Chromium at {CHROMIUM}, {INSTALL_CHROMIUM_ENV}=0: the dashboard's browser tests will skip")
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        say(
            f"no Chromium at {CHROMIUM}: the dashboard's browser tests will skip "
            "(to run them: `sudo apt-get install chromium` on Debian, then run this again)"
        )
        return
    say(
        "installing the system package `chromium` (apt-get update && apt-get install chromium, about 300 MB "
        "with its libraries, once) because the dashboard's browser tests need a real browser; "
        f"set {INSTALL_CHROMIUM_ENV}=0 to skip those tests instead"
    )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        if subprocess.run(command, env=env, check=False).returncode != 0:
            say("could not install chromium; the browser tests will skip")
            return


def main() -> int:
    _bootstrap.enter_venv(None, "the runtime, test and benchmark dependencies")
    ensure_chromium()
    for name, command, cwd in steps(sys.argv[1:]):
        say(name)
        code = subprocess.run(command, cwd=cwd, check=False).returncode
        if code != 0:
            say(f"{name} failed (exit code {code})")
            return code
    say("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
