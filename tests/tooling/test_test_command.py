"""The test command (`python3 scripts/test.py [pytest args]`): with no paths, every check on the whole tree
and the suite in parallel; with paths, just those tests, ruff on just those files, no mypy, and Chromium
only when a browser test is among them."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest

from tests.support import ROOT

ONE_FILE = "tests/tooling/test_dev_command.py"


@pytest.fixture
def test_command() -> Iterator[ModuleType]:
    """scripts/test.py as a module (it imports its sibling `_bootstrap`, so scripts/ goes on the path)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        spec = importlib.util.spec_from_file_location("test_script", ROOT / "scripts" / "test.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(ROOT / "scripts"))


def _steps(test_command: ModuleType, *args: str) -> dict[str, list[str]]:
    return dict(test_command.steps(list(args)))


def test_with_no_arguments_it_checks_the_whole_tree_and_runs_the_suite_in_parallel(
    test_command: ModuleType,
) -> None:
    steps = _steps(test_command)

    assert list(steps)[:5] == ["ruff check", "ruff format --check", "mypy", "packages/arqkit: mypy", "pytest"]
    assert steps["ruff check"][-1] == "."
    assert steps["pytest"][-4:] == ["-n", test_command.XDIST_WORKERS, "-m", "not latency"]


def test_the_tests_that_time_themselves_run_alone_after_the_others(test_command: ModuleType) -> None:
    """A wall-clock bound ("503 within 2 s") measures the machine too: not beside three other processes."""
    names = [name for name, _ in test_command.steps([])]
    for tree in ("", test_command.IN_PACKAGE):  # the service's tests, then the package's
        parallel = names.index(tree + "pytest")
        latency = dict(test_command.steps([]))[names[parallel + 1]]

        assert latency[-2:] == ["-m", "latency"]  # right after the parallel run
        assert "-n" not in latency


def test_a_path_inside_the_package_runs_in_the_packages_own_pytest(test_command: ModuleType) -> None:
    steps = _steps(test_command, "packages/arqkit/tests/test_cli.py::test_x")

    assert steps[test_command.IN_PACKAGE + "pytest"][-1] == "tests/test_cli.py::test_x"
    assert "pytest" not in steps


def test_options_alone_still_mean_the_whole_tree(test_command: ModuleType) -> None:
    steps = _steps(test_command, "-x", "-k", "sighup")

    assert "mypy" in steps
    assert steps["pytest"][-3:] == ["-x", "-k", "sighup"]


def test_with_a_test_file_it_lints_that_file_runs_no_mypy_and_one_process(test_command: ModuleType) -> None:
    steps = _steps(test_command, f"{ONE_FILE}::test_help_prints_the_options_and_starts_nothing")

    assert list(steps) == ["ruff check", "ruff format --check", "pytest"]
    assert steps["ruff check"][-1] == ONE_FILE
    assert steps["ruff format --check"][-1] == ONE_FILE
    assert "-n" not in steps["pytest"]


def test_a_folder_runs_in_parallel_and_your_own_n_wins(test_command: ModuleType) -> None:
    assert _steps(test_command, "tests/tooling")["pytest"][-3:] == [
        "-n",
        test_command.XDIST_WORKERS,
        "tests/tooling",
    ]
    assert _steps(test_command, "-n", "0", "tests/tooling")["pytest"].count("-n") == 1


@pytest.mark.parametrize(
    ("args", "browser"),
    [
        ((), True),
        (("tests/jobs",), False),
        ((ONE_FILE,), False),
        (("tests/api",), False),
        (("packages/arqkit/tests/web",), True),
        (("packages/arqkit/tests/web/test_dashboard_browser.py::test_x",), True),
    ],
)
def test_chromium_is_installed_only_for_a_run_with_browser_tests(
    test_command: ModuleType, args: tuple[str, ...], browser: bool
) -> None:
    assert test_command.needs_browser(list(args)) is browser
