#!/usr/bin/env python3
"""Run every check CI runs, in order, stopping at the first failure. `python3 scripts/test.py [pytest args]`.

Extra arguments go to pytest. Given test paths (`tests/jobs`, `tests/x.py::test_y`), it runs just those:
ruff on those paths, no mypy (it checks the whole tree), Chromium only for a browser test. The whole suite
runs in parallel (pytest-xdist), each process with its own throwaway redis-server on a free port, so this
never touches a Redis you may have running on 6379.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import _bootstrap

# Test processes for a whole run: they mostly wait on Redis and child processes, so more than the cores.
XDIST_WORKERS = "4"
# The dashboard's browser tests (packages/arqkit/tests/web/test_*_browser.py) drive Debian's Chromium through
# playwright, which never downloads a browser of its own.
CHROMIUM = Path("/usr/bin/chromium")
BROWSER_TESTS = "test_*_browser.py"
INSTALL_CHROMIUM_ENV = "TEST_INSTALL_CHROMIUM"  # "0": never install it; the browser tests skip
# The machinery's package has its own mypy and pytest configuration and tests: steps named with this
# prefix run in its folder, and a path inside it runs there.
PACKAGE = _bootstrap.ROOT / "packages" / "arqkit"
IN_PACKAGE = "packages/arqkit: "
NO_TESTS_COLLECTED = 5  # pytest's exit code when a `-m latency` run finds none in its tree


def selected_paths(pytest_args: list[str]) -> list[str]:
    """The files and folders among pytest's arguments (`tests/x.py::test_y` is tests/x.py): what to lint."""
    paths = [arg.split("::")[0] for arg in pytest_args if not arg.startswith("-")]
    return [path for path in paths if (_bootstrap.ROOT / path).exists()]  # not an option's value (-k expr)


def steps(pytest_args: list[str]) -> list[tuple[str, list[str]]]:
    """Cheapest first, so a lint error fails in seconds rather than after the test suite."""
    python = sys.executable
    paths = selected_paths(pytest_args)
    pytest = [python, "-m", "pytest"]
    # The suite or a folder in parallel; a file or a test alone starts sooner in one process.
    in_parallel = not paths or any((_bootstrap.ROOT / path).is_dir() for path in paths)
    if in_parallel and not any(arg.startswith(("-n", "--numprocesses")) for arg in pytest_args):
        pytest += ["-n", XDIST_WORKERS]
    lint = [
        ("ruff check", [python, "-m", "ruff", "check", *(paths or ["."])]),
        ("ruff format --check", [python, "-m", "ruff", "format", "--check", *(paths or ["."])]),
        # which files, and how strictly: pyproject.toml; it follows imports, so only for the whole tree
        *([] if paths else [("mypy", [python, "-m", "mypy"])]),
    ]
    if pytest_args:
        package = f"{PACKAGE.relative_to(_bootstrap.ROOT)}/"
        if paths and all(path.startswith(package) for path in paths):
            inside = [arg.removeprefix(package) for arg in pytest_args]
            return [*lint, (IN_PACKAGE + "pytest", [*pytest, *inside])]
        return [*lint, ("pytest", [*pytest, *pytest_args])]
    # The whole suite: the tests that time themselves run alone, where the others' load cannot slow them.
    latency = ("pytest: the latency tests, in one process", [python, "-m", "pytest", "-m", "latency"])
    return [
        *lint,
        (IN_PACKAGE + "mypy", [python, "-m", "mypy"]),
        ("pytest", [*pytest, "-m", "not latency"]),
        latency,
        (IN_PACKAGE + "pytest", [*pytest, "-m", "not latency"]),
        (IN_PACKAGE + latency[0], latency[1]),
    ]


def needs_browser(pytest_args: list[str]) -> bool:
    """Whether the run includes the dashboard's browser tests: the whole suite, or a path that holds them."""
    paths = [_bootstrap.ROOT / path for path in selected_paths(pytest_args)]
    return not paths or any(path.match(BROWSER_TESTS) or any(path.rglob(BROWSER_TESTS)) for path in paths)


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


class SystemTool(NamedTuple):
    """A Debian package some tests need; installed (saying so) when missing and we are root, else those
    tests skip, saying why."""

    binary: Path
    package: str
    size: str
    needed_by: str
    env: str  # "0" in it: never install; the tests skip

    def ensure(self) -> None:
        if self.binary.exists():
            return
        if os.environ.get(self.env) == "0":
            say(f"no {self.binary}, {self.env}=0: {self.needed_by} will skip")
            return
        if shutil.which("apt-get") is None or os.geteuid() != 0:
            say(
                f"no {self.binary}: {self.needed_by} will skip "
                f"(to run them: `sudo apt-get install {self.package}` on Debian, then run this again)"
            )
            return
        say(
            f"installing the system package `{self.package}` (apt-get update && apt-get install "
            f"{self.package}, {self.size}, once) because {self.needed_by} need it; set {self.env}=0 to "
            "skip those tests instead"
        )
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", self.package]
        for command in (["apt-get", "update", "-qq"], install):
            if subprocess.run(command, env=env, check=False).returncode != 0:
                say(f"could not install {self.package}; {self.needed_by} will skip")
                return


CHROMIUM_TOOL = SystemTool(
    CHROMIUM,
    "chromium",
    "about 300 MB with its libraries",
    "the dashboard's browser tests",
    INSTALL_CHROMIUM_ENV,
)
PROMETHEUS_TOOL = SystemTool(
    Path("/usr/bin/promtool"),
    "prometheus",
    "about 94 MB: promtool and the server",
    "the alert rules' promtool tests and the real-Prometheus scrape test",
    "TEST_INSTALL_PROMETHEUS",
)


def main() -> int:
    _bootstrap.enter_venv(None, "the runtime, test and benchmark dependencies")
    pytest_args = sys.argv[1:]
    if needs_browser(pytest_args):
        CHROMIUM_TOOL.ensure()
    if not pytest_args:  # the whole suite: its alert-rule and Prometheus tests
        PROMETHEUS_TOOL.ensure()
    for name, command in steps(pytest_args):
        say(name)
        cwd = PACKAGE if name.startswith(IN_PACKAGE) else _bootstrap.ROOT
        code = subprocess.run(command, cwd=cwd, check=False).returncode
        if code == NO_TESTS_COLLECTED and command[-2:] == ["-m", "latency"]:
            continue
        if code != 0:
            say(f"{name} failed (exit code {code})")
            return code
    say("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
