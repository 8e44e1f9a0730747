"""The tree's rules, checked on the source: dependencies point `api -> jobs -> settings`, the machinery
never imports the team's jobs or routes, routes never reach into Redis, and only `keys.py` spells a key."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _modules(folder: str) -> list[Path]:
    paths = sorted(ROOT.joinpath(folder).rglob("*.py"))
    assert paths, folder
    return paths


def _offenders(folder: str, forbidden: set[str]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _modules(folder)
        for name in sorted(_imports(path))
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]


def test_jobs_never_import_api() -> None:
    assert _offenders("jobs", {"api"}) == []


def test_the_package_never_imports_the_teams_code() -> None:
    assert _offenders("packages/arqkit/src/arqkit", {"jobs", "api", "settings", "devtools", "tests"}) == []


def test_the_packages_tests_run_on_their_own_fixture_service_not_on_the_teams_code() -> None:
    """They import the package and their own `tests` (packages/arqkit/tests/service is their service),
    and start no worker, app or command of the team's."""
    tests = "packages/arqkit/tests"
    assert _offenders(tests, {"jobs", "api", "settings", "devtools"}) == []
    unknown = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _modules(tests)
        for name in sorted(_imports(path))
        if name.startswith("tests.") and not _is_module_under(ROOT / "packages/arqkit", name)
    ]
    assert unknown == []
    teams = re.compile(r"""["'](jobs[.]\w*WorkerSettings|api[.]main|devtools[.])|"-m", "jobs\"""")
    assert [str(p.relative_to(ROOT)) for p in _modules(tests) if teams.search(p.read_text())] == []


def _is_module_under(root: Path, dotted: str) -> bool:
    """`dotted` (a module, or a name imported from one) is a module or package below `root`."""
    parts = dotted.split(".")
    candidates = [parts, parts[:-1]]
    return any(
        root.joinpath(*found).with_suffix(".py").exists() or root.joinpath(*found, "__init__.py").exists()
        for found in candidates
        if found
    )


def test_the_teams_code_never_imports_arq_itself() -> None:
    """arq is reached through `arqkit` only (its internals/ is the one place that imports it)."""
    team = [*_modules("api"), *_modules("jobs"), ROOT / "settings.py"]
    importers = [p for p in team if any(name.split(".")[0] == "arq" for name in _imports(p))]
    assert [str(p.relative_to(ROOT)) for p in importers] == []


@pytest.mark.parametrize(
    "folder", ["packages/arqkit/src/arqkit/web/routes", "packages/arqkit/src/arqkit/web/admin", "api/routes"]
)
def test_routes_never_touch_redis_themselves(folder: str) -> None:
    """They call the job client or the admin interface."""
    touching = [
        str(path.relative_to(ROOT))
        for path in _modules(folder)
        if ".redis" in path.read_text() or "redis" in {n.split(".")[0] for n in _imports(path)}
    ]
    assert touching == []


def test_only_keys_py_spells_a_redis_key() -> None:
    literal = re.compile(r"""["'](arq:|svc:|app:)""")
    spelled = [
        str(path.relative_to(ROOT))
        for folder in ("api", "jobs", "packages/arqkit/src/arqkit")
        for path in _modules(folder)
        if path.name != "keys.py" and literal.search(path.read_text())
    ]
    assert spelled == []


def test_every_lua_script_is_a_file_the_loader_lists() -> None:
    lua = ROOT / "packages/arqkit/src/arqkit/lua"
    scripts = {path.stem for path in lua.glob("*.lua")}
    listed = set(re.findall(r"`(\w+)\.lua`", (lua / "__init__.py").read_text()))
    assert scripts == listed
    inline = [
        str(p.relative_to(ROOT))
        for folder in ("jobs", "api", "packages/arqkit", "tests", "bench")
        if ROOT.joinpath(folder).is_dir()  # a service may delete bench/ with the examples
        for p in _modules(folder)
        if "redis.call(" in p.read_text() and p != Path(__file__)
    ]
    assert inline == []
