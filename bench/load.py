"""HTTP load from a separate process: wrk when it is there (installed with apt-get when it can be), else
`bench.loadgen` (httpx). Either is pinned to its own core, apart from the server."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import orjson

from bench.procs import LOAD_CORE, ROOT, pinned

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_DURATION = r"([\d.]+)(us|ms|s|m)\b"


@dataclass(frozen=True)
class LoadResult:
    requests_per_second: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int


def ensure_wrk(install: bool = True) -> str | None:
    """wrk's path; installs Debian's package when apt-get is there and we are root. None: use the fallback."""
    found = shutil.which("wrk")
    if found or not install or not shutil.which("apt-get") or os.geteuid() != 0:
        return found
    print("==> wrk not found: apt-get update; apt-get install -y wrk (Debian's package)", flush=True)
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
        if subprocess.run(command, capture_output=True, check=False).returncode != 0:
            return None
    return shutil.which("wrk")


def load_generator_name(wrk: str | None) -> str:
    if wrk is None:
        return "bench.loadgen (httpx, asyncio, one process)"
    version = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False).stdout
    return version.splitlines()[0].split(" Copyright")[0] if version else "wrk"


def run_load(wrk: str | None, url: str, body: bytes, connections: int, seconds: float) -> LoadResult:
    if wrk is None:
        return _run_loadgen(url, body, connections, seconds)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(f'wrk.method = "POST"\nwrk.body = [[{body.decode()}]]\n')
        script.write('wrk.headers["Content-Type"] = "application/json"\n')
    try:
        command = [
            wrk,
            "-t2",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "-s",
            script.name,
        ]
        output = _pinned([*command, url])
    finally:
        Path(script.name).unlink()
    return parse_wrk(output)


def parse_wrk(output: str) -> LoadResult:
    def ms(pattern: str) -> float:
        match = re.search(pattern + r"\s+" + _DURATION, output)
        if match is None:
            raise ValueError(f"wrk output without {pattern!r}:\n{output}")
        return float(match.group(1)) * _UNITS_MS[match.group(2)]

    latency = re.search(r"Latency\s+" + _DURATION + r"\s+" + _DURATION + r"\s+" + _DURATION, output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if latency is None or rate is None:
        raise ValueError(f"unexpected wrk output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = int(non_2xx.group(1)) if non_2xx else 0
    errors += sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    return LoadResult(
        requests_per_second=float(rate.group(1)),
        p50_ms=ms(r"\b50%"),
        p90_ms=ms(r"\b90%"),
        p99_ms=ms(r"\b99%"),
        max_ms=float(latency.group(5)) * _UNITS_MS[latency.group(6)],
        errors=errors,
    )


def _run_loadgen(url: str, body: bytes, connections: int, seconds: float) -> LoadResult:
    command = [sys.executable, "-m", "bench.loadgen", url, "--body", body.decode()]
    output = _pinned([*command, "--connections", str(connections), "--duration", str(seconds)])
    values = orjson.loads(output.strip().splitlines()[-1])
    return LoadResult(**{**values, "errors": int(values["errors"])})


def _pinned(command: list[str]) -> str:
    process = subprocess.Popen(
        pinned(command, LOAD_CORE), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output, _ = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{command[0]} failed:\n{output}")
    return output
