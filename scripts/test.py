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


def steps(pytest_args: list[str]) -> list[tuple[str, list[str]]]:
    """Cheapest first, so a lint error fails in seconds rather than after the test suite."""
    python = sys.executable
    return [
        ("ruff check", [python, "-m", "ruff", "check", "."]),
        ("ruff format --check", [python, "-m", "ruff", "format", "--check", "."]),
        ("mypy", [python, "-m", "mypy"]),  # which files, and how strictly: pyproject.toml
        ("pytest", [python, "-m", "pytest", *pytest_args]),
    ]


# The dashboard's browser tests (tests/api/test_dashboard_browser.py) drive it.
CHROMIUM = Path("/usr/bin/chromium")


def ensure_chromium() -> None:
    """Install Debian's Chromium when it is missing and we can (root, apt-get); else those tests skip."""
    if CHROMIUM.exists() or shutil.which("apt-get") is None or os.geteuid() != 0:
        return
    print("==> installing chromium for the dashboard tests (apt-get)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        if subprocess.run(command, env=env).returncode != 0:
            print("==> could not install chromium; the browser tests will skip", flush=True)
            return


def main() -> int:
    _bootstrap.enter_venv()
    ensure_chromium()
    for name, command in steps(sys.argv[1:]):
        print(f"==> {name}", flush=True)
        code = subprocess.run(command, cwd=_bootstrap.ROOT).returncode
        if code != 0:
            print(f"==> {name} failed (exit code {code})", flush=True)
            return code
    print("==> all checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
