"""arqkit is a package of its own: it installs and imports in a clean venv with none of the service's code
(no `settings`, `jobs`, `api` on the path), as it would from PyPI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "packages" / "arqkit"
MODULES = ["arqkit", "arqkit.web", "arqkit.testing", "arqkit.cli", "arqkit.internals.worker"]


def _uv() -> str:
    found = shutil.which("uv") or str(ROOT / ".dev" / "uv" / "bin" / "uv")
    if not Path(found).exists():
        pytest.skip("no uv (scripts/test.py installs one into .dev/uv)")
    return found


def test_arqkit_installs_and_imports_in_a_clean_venv_without_the_services_code(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    subprocess.run([_uv(), "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    subprocess.run(
        [_uv(), "pip", "install", "-q", "--python", str(python), f"{PACKAGE}[testing]"], check=True
    )
    code = "import importlib, sys\n" + "\n".join(f"importlib.import_module({m!r})" for m in MODULES)
    code += "\nassert not {'settings', 'jobs', 'api', 'devtools', 'tests'} & set(sys.modules)"
    code += "\nfrom arqkit import alerts, lua; assert alerts.RULES.is_file() and alerts.RULE_TESTS.is_file()"
    code += "\nassert lua.source('claim')  # its data files are in the wheel"
    code += "\nimport arqkit; print(arqkit.__file__)"

    done = subprocess.run(
        [str(python), "-I", "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False
    )

    assert done.returncode == 0, done.stderr
    assert str(venv) in done.stdout  # the installed package, not the workspace's source
