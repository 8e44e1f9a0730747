"""The machine and the versions a run was made with, for the report's table."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from arqkit.redis_server import find_redis_server

PACKAGES = ("arq", "redis", "hiredis", "fastapi", "starlette", "uvicorn", "uvloop", "httptools", "orjson")


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _package(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def _redis_server() -> str:
    output = subprocess.run([find_redis_server(), "--version"], capture_output=True, text=True, check=False)
    return next((part for part in output.stdout.split() if part.startswith("v=")), "?").removeprefix("v=")


def describe_machine(load_generator: str) -> list[str]:
    rows = [
        ("CPU", f"{_cpu_model()}, {os.cpu_count()} cores"),
        ("OS", f"{platform.system()} {platform.release()} ({platform.machine()})"),
        ("Python", platform.python_version()),
        ("redis-server", _redis_server() + " (loopback, its own, no persistence)"),
        ("load generator", load_generator),
        *((name, _package(name)) for name in PACKAGES),
    ]
    return ["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)]
