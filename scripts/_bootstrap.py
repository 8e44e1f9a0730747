"""Get from a bare `python3` to the project's virtualenv: the standard library only, on purpose.

`scripts/dev.py` and `scripts/test.py` call `enter_venv()` first, so a fresh clone needs nothing
but Python 3.11+: the venv is created, kept in step with `requirements.lock`, and the script
re-runs itself inside it.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIN_PYTHON = (3, 11)
_REEXEC_MARKER = "_TEMPLATE_BOOTSTRAPPED"  # guards against an endless re-exec loop


def ensure_venv(root: Path = ROOT) -> Path:
    """Create `.venv` if missing and (re)install the lock file when it changed; return its python."""
    venv_dir = root / ".venv"
    python = venv_dir / "bin" / "python"
    if not python.exists():
        print(f"==> creating {venv_dir}", flush=True)
        try:
            venv.create(venv_dir, with_pip=True)
        except subprocess.CalledProcessError as error:  # e.g. Debian's python3 without python3-venv
            raise SystemExit(f"could not create {venv_dir}: {error} (is python3-venv installed?)") from error
    stamp = venv_dir / ".lock-stamp"
    digest = _dependencies_digest(root)
    if not stamp.exists() or stamp.read_text().strip() != digest:
        _install(python, root)
        stamp.write_text(digest + "\n")
    return python


def _dependencies_digest(root: Path) -> str:
    """sha256 of what the install depends on: the lock file, and pyproject.toml for the package list."""
    sha = hashlib.sha256()
    for name in ("requirements.lock", "pyproject.toml"):
        sha.update((root / name).read_bytes())
    return sha.hexdigest()


def _install(python: Path, root: Path) -> None:
    print("==> installing requirements.lock into .venv (only when it changes)", flush=True)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
    subprocess.run([*pip, "-r", str(root / "requirements.lock")], check=True)
    subprocess.run([*pip, "--no-deps", "-e", str(root)], check=True)


def running_in(venv_python: Path) -> bool:
    """Whether this interpreter is the one of the venv that `venv_python` belongs to."""
    return Path(sys.prefix).resolve() == venv_python.parent.parent.resolve()


def reexec_under(venv_python: Path) -> None:
    """Replace this process with the same command line run by the venv's python (no return)."""
    if os.environ.get(_REEXEC_MARKER):
        raise SystemExit(f"re-running under {venv_python} did not enter the venv; giving up")
    os.environ[_REEXEC_MARKER] = "1"
    sys.stdout.flush()
    os.execv(venv_python, [str(venv_python), *sys.argv])


def enter_venv(root: Path = ROOT) -> None:
    """Make sure the venv is ready and that we run inside it: call first thing in a script."""
    if sys.version_info < MIN_PYTHON:
        wanted = ".".join(map(str, MIN_PYTHON))
        raise SystemExit(f"Python {wanted}+ is required; this is {sys.version.split()[0]}")
    python = ensure_venv(root)
    if not running_in(python):
        reexec_under(python)
    os.environ.pop(_REEXEC_MARKER, None)
