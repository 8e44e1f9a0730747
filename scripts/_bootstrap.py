"""Get from a bare `python3` to the project's virtualenv: the standard library only, on purpose.

`scripts/dev.py` and `scripts/test.py` call `enter_venv(...)` first, so a fresh clone needs nothing
but Python 3.11+: uv is found (or installed from PyPI into `.dev/uv`), `.venv` is synced from
`uv.lock` (the run command: the runtime only; the test command: every group), and the script re-runs
itself inside it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
import venv
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIN_PYTHON = (3, 11)
UV_VERSION = "0.13.8"  # installed into .dev/uv when no uv of at least MIN_UV is on PATH
MIN_UV = (0, 9)
_REEXEC_MARKER = "_TEMPLATE_BOOTSTRAPPED"  # guards against an endless re-exec loop


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def uv_version(binary: str | Path) -> tuple[int, ...] | None:
    """`uv --version` as numbers (0, 13, 8), or None if it does not run."""
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return None
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(part) for part in match.groups()) if match else None


def find_uv(root: Path = ROOT) -> Path:
    """A uv binary: yours on PATH if recent enough, else the project's own in .dev/uv (installed once)."""
    on_path = shutil.which("uv")
    if on_path and (version := uv_version(on_path)) is not None and version >= MIN_UV:
        return Path(on_path)
    tool_dir = root / ".dev" / "uv"
    uv = tool_dir / "bin" / "uv"
    if uv.exists() and uv_version(uv) is not None:
        return uv
    wanted = ".".join(map(str, MIN_UV))
    say(f"no uv {wanted}+ on PATH: installing uv {UV_VERSION} from PyPI into {tool_dir} (once, ~60 MB)")
    try:
        venv.create(tool_dir, with_pip=True, clear=True)
    except subprocess.CalledProcessError as error:  # e.g. Debian's python3 without python3-venv
        raise SystemExit(f"could not create {tool_dir}: {error} (is python3-venv installed?)") from error
    pip = [str(tool_dir / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    if subprocess.run([*pip, f"uv=={UV_VERSION}"], check=False).returncode != 0:
        raise SystemExit(f"could not install uv {UV_VERSION} from PyPI (pip's output above says why)")
    return uv


def sync_command(uv: Path, groups: Sequence[str] | None) -> list[str]:
    """`uv sync` from the lock, never re-resolving: the named groups only, or (None) every group and extra.

    --inexact: packages you added by hand stay; --python: the venv uses the interpreter you ran us with.
    """
    command = [str(uv), "sync", "--frozen", "--inexact", "--quiet", "--python", base_python()]
    if groups is None:
        return [*command, "--all-groups", "--all-extras"]
    return [*command, "--no-default-groups", *(f"--group={group}" for group in groups)]


def ensure_venv(groups: Sequence[str] | None, what: str, root: Path = ROOT) -> Path:
    """Sync `.venv` with uv.lock when the lock, pyproject.toml, the interpreter or the groups changed."""
    venv_dir = root / ".venv"
    python = venv_dir / "bin" / "python"
    stamp = venv_dir / f".synced-{'all' if groups is None else '+'.join(groups) or 'runtime'}"
    digest = _dependencies_digest(root, groups)
    if python.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return python
    uv = find_uv(root)
    say(f"installing {what} from uv.lock into .venv (uv sync; only when the lock changes)")
    started = time.monotonic()
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv_dir), "UV_PYTHON_DOWNLOADS": "never"}
    code = subprocess.run(sync_command(uv, groups), cwd=root, env=env, check=False).returncode
    if code != 0:
        raise SystemExit(f"uv sync failed (exit code {code}); its output above says why")
    say(f"installed in {time.monotonic() - started:.0f} s")
    stamp.write_text(digest + "\n")
    return python


def _dependencies_digest(root: Path, groups: Sequence[str] | None) -> str:
    """sha256 of what the install depends on: the lock, the pyproject.toml files (ours and the workspace
    packages'), this interpreter, the groups."""
    sha = hashlib.sha256()
    for path in (root / "uv.lock", root / "pyproject.toml", *sorted(root.glob("packages/*/pyproject.toml"))):
        sha.update(path.read_bytes())
    sha.update(f"{base_python()} {sys.version} {groups}".encode())
    return sha.hexdigest()


def base_python() -> str:
    """The interpreter behind this one: itself, or the one a venv was made from (the same for both)."""
    return str(Path(getattr(sys, "_base_executable", sys.executable)).resolve())


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


def enter_venv(
    groups: Sequence[str] | None = None, what: str = "every dependency group", root: Path = ROOT
) -> None:
    """Make sure the venv has `groups` (None: every group and extra) and that we run inside it: call
    first thing."""
    if sys.version_info < MIN_PYTHON:
        wanted = ".".join(map(str, MIN_PYTHON))
        raise SystemExit(f"Python {wanted}+ is required; this is {sys.version.split()[0]}")
    if sys.platform == "win32":
        raise SystemExit("On Windows, run this inside WSL (Ubuntu): the scripts use POSIX process groups")
    if os.environ.get(_REEXEC_MARKER) and running_in(root / ".venv" / "bin" / "python"):
        os.environ.pop(_REEXEC_MARKER, None)  # the parent synced a moment ago
        return
    python = ensure_venv(groups, what, root)
    if not running_in(python):
        reexec_under(python)
    os.environ.pop(_REEXEC_MARKER, None)
