"""A team deletes the examples and its suite stays green: in a copy of the repository without the
example jobs, routes, schemas and their tests (the registry and the routes left empty, as the README
says), ruff, mypy and the service's whole suite pass. The package's tests never needed the examples."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

EXAMPLES = [
    "jobs/tasks/email.py",
    "jobs/tasks/reports.py",
    "jobs/tasks/payments.py",
    "jobs/tasks/cron.py",
    "jobs/tasks/thumbnails.py",
    "jobs/tasks/orders.py",  # the order fulfilment flow (its receipt is in jobs/tasks/email.py)
    "jobs/tasks/users.py",
    "tests/jobs/test_example_from_readme.py",
    "tests/jobs/test_payments.py",
    "tests/jobs/test_end_to_end.py",
    "tests/jobs/test_thumbnails.py",
    "tests/jobs/test_orders.py",
    "tests/e2e/test_order_flows.py",
    "tests/jobs/test_reports_per_user.py",
    "tests/api/test_user_sync.py",
    "tests/api/test_producers.py",
    "tests/api/test_idempotent_producers.py",  # the example routes' Idempotency-Key
    "tests/e2e/test_connection_limits.py",  # the shipped server's limits, measured on the example routes
    "tests/tooling/test_readme_example.py",  # the README's example is an example's test
    "tests/tooling/test_examples_deletable.py",  # this test, which would run itself again
    # The template's benchmark harness measures the example route (`POST /signup`) against other libraries:
    # it goes with the examples (a service that wants one points it at routes of its own).
    "bench",
    "tests/tooling/test_bench_smoke.py",
]
# What the README tells a team to leave in place of the examples.
EMPTY = {
    "jobs/registry.py": '''"""Every job of this service. Adding one: write it with `@job(...)` in a module
of `jobs/tasks/`, add it here."""

from __future__ import annotations

from arqkit import Registry

REGISTRY = Registry([])
''',
    "api/routes/producers.py": '''"""Your routes: validate, enqueue, answer 202."""

from __future__ import annotations

from arqkit.web.openapi import PRODUCER
from fastapi import APIRouter

router = APIRouter(tags=["producers"], responses=PRODUCER)
''',
    "api/schemas.py": '''"""The request bodies of your routes (`api/routes/producers.py`)."""
''',
}


def _tracked_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    return [name for name in listed.stdout.decode().split("\0") if name]


@pytest.fixture(scope="module")
def without_examples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("without-examples")
    for name in _tracked_files():
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    (copy / ".venv").symlink_to(ROOT / ".venv")
    for name in EXAMPLES:
        path = copy / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    for name, text in EMPTY.items():
        (copy / name).write_text(text)
    pyproject = copy / "pyproject.toml"  # mypy's `files` no longer lists the harness
    pyproject.write_text(pyproject.read_text().replace('"scripts", "bench", ', '"scripts", '))
    return copy


def _run(copy: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """This venv's python in the copy (its own `jobs`, `api` and `settings` come first on sys.path)."""
    return subprocess.run([sys.executable, *args], cwd=copy, capture_output=True, text=True, timeout=timeout)


def test_the_copy_imports_its_own_code_not_this_checkouts(without_examples: Path) -> None:
    done = _run(
        without_examples, "-c", "import jobs.registry, api.main; print(jobs.registry.__file__)", timeout=60
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(without_examples / "jobs/registry.py")


@pytest.mark.parametrize(
    "check",
    [["-m", "ruff", "check", "."], ["-m", "ruff", "format", "--check", "."], ["-m", "mypy"]],
    ids=" ".join,
)
def test_lint_and_types_pass_without_the_examples(without_examples: Path, check: list[str]) -> None:
    done = _run(without_examples, *check, timeout=600)

    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


@pytest.mark.timeout(1800)
def test_the_whole_suite_passes_without_the_examples(without_examples: Path) -> None:
    """Any test or team module that still needs an example fails here (an import, a route, a job name)."""
    done = _run(without_examples, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", timeout=1700)

    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert " passed" in done.stdout.splitlines()[-1]
