"""The benchmark harness still runs end to end (tiny sizes; it measures nothing and asserts no timing)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.load import parse_wrk
from tests.support import ROOT

WRK_OUTPUT = """Running 1s test @ http://127.0.0.1:8000/signup
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    25.01ms    4.80ms 280.00ms   91.00%
    Req/Sec   640.00     40.00   700.00     70.00%
  Latency Distribution
     50%   24.00ms
     75%   26.00ms
     90%   30.00ms
     99%  850.00us
  1280 requests in 1.00s, 300.00KB read
  Non-2xx or 3xx responses: 3
Requests/sec:   1280.50
Transfer/sec:    300.00KB
"""


def test_wrk_output_is_read_as_requests_per_second_and_milliseconds() -> None:
    result = parse_wrk(WRK_OUTPUT)

    assert result.requests_per_second == 1280.5
    assert (result.p50_ms, result.p90_ms, result.p99_ms, result.max_ms) == (24.0, 30.0, 0.85, 280.0)
    assert result.errors == 3


@pytest.mark.timeout(600)
def test_the_smoke_run_writes_the_report_and_the_plot(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "bench/run.py", "--smoke", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = (tmp_path / "benchmarks.md").read_text()
    for heading in ("Enqueue endpoint", "Pickup latency", "Worker throughput", "What each piece costs"):
        assert heading in report
    assert (tmp_path / "benchmarks-latency.png").stat().st_size > 0


@pytest.mark.timeout(300)
def test_the_signup_pickup_run_reports_start_and_receipt_percentiles() -> None:
    run = subprocess.run(
        [sys.executable, "bench/signup_pickup.py", "--samples", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "POST /signup -> job started: p50" in run.stdout
    assert "POST /signup -> provider received: p50" in run.stdout
