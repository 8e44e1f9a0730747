"""The benchmark harness still runs end to end (tiny sizes; it measures nothing and asserts no timing)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench import results as r
from bench.load import LoadResult, parse_wrk
from bench.report_peers import peer_gap_notes, peer_goals, peer_table
from bench.results import Results, Sizes
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
    assert "other queue libraries" in report
    assert "taskiq (smoke run: no peer venvs)" in report  # the peers' venvs are skipped, and it says so
    assert (tmp_path / "benchmarks-latency.png").stat().st_size > 0
    assert (tmp_path / "benchmarks-peers.png").stat().st_size > 0


SIZES = Sizes(2, 1.0, 4, 2, 0.3, 20, (0.01,), (0.25,), 20, 30.0)


def _load(rps: float, p99: float) -> LoadResult:
    return LoadResult(rps, 1.0, 2.0, p99, p99, 0)


def _results() -> Results:
    """Two rounds: the template beats saq in both, taskiq's worker is the fastest peer's."""
    res = Results()
    res.http = {
        r.SIGNUP_RATE_LIMITED: [_load(1000, 20), _load(1100, 20)],
        r.PEER_HTTP["saq"]: [_load(900, 30), _load(1000, 30)],
        r.PEER_HTTP["taskiq"]: [_load(800, 25), _load(800, 25)],
        r.BG_SYNC: [_load(1000, 10), _load(1000, 10)],
    }
    res.drain = {r.DRAIN["template"]: [600, 700], r.DRAIN["taskiq"]: [1200, 1400], r.DRAIN["arq"]: [500, 500]}
    res.drain[r.DRAIN["celery"]] = [400, 400]
    res.pickup = {r.PICKUP_SIGNUP: [[3.0, 4.0, 30.0]]}
    res.crash = {"template": 14.0, "celery": None}
    return res


def _goal(lines: list[str], starts: str) -> str:
    return next(line for line in lines if line.split("|")[2].strip().startswith(starts))


def test_peer_goals_compare_the_shipped_signup_with_the_fastest_peer_within_each_round() -> None:
    lines, _ = peer_goals(_results(), SIZES)

    fastest = _goal(lines, "/signup as shipped, req/s vs the fastest peer (saq)")
    assert "1.11 [1.10-1.11]x" in fastest  # 1000/900 and 1100/1000
    assert "**met**" in fastest
    assert "**not met**" in _goal(lines, "/signup as shipped, req/s vs BackgroundTasks")  # 1.05x < 1.2x
    p99 = _goal(lines, "/signup p99 vs the lowest peer p99 (taskiq)")  # 20 ms against taskiq's 25 ms
    assert "0.80 [0.80-0.80]x" in p99
    assert "**met**" in p99


def test_peer_goals_name_the_fastest_worker_and_what_is_not_met() -> None:
    lines, unmet = peer_goals(_results(), SIZES)

    assert "0.50 [0.50-0.50]x" in _goal(lines, "worker no-op jobs/s vs the fastest peer's (taskiq)")
    assert "**met**" in _goal(lines, "worker no-op jobs/s vs arq")
    assert "**not met**" in _goal(lines, "pickup p99")
    assert "**met**" in _goal(lines, "crash recovery")
    assert "worker no-op jobs/s vs the fastest peer's (taskiq)" in unmet


def test_a_crashed_job_that_never_ran_again_shows_as_over_the_cap() -> None:
    table = "\n".join(peer_table(_results(), SIZES))

    assert "> 30 s (cap)" in table


def test_each_goal_not_met_gets_a_note_with_its_cause_from_the_same_run() -> None:
    res = _results()
    res.throughput = {r.TEMPLATE: [600.0, 600.0], r.NO_LOGS: [800.0, 750.0]}
    _, unmet = peer_goals(res, SIZES)

    notes = "\n".join(peer_gap_notes(res, unmet))

    assert "Why the template's worker is short" in notes
    assert "INFO logs (one line per job) 0.78 [0.75-0.80]x" in notes  # 600/800 and 600/750, the same rounds
    assert "Why pickup is over the target" in notes
    assert "Crash recovery" not in notes  # 14 s: met


@pytest.mark.timeout(300)
def test_the_capacity_script_runs_its_three_phases_and_reports_them() -> None:
    command = [
        sys.executable,
        "bench/capacity.py",
        "--seconds",
        "1",
        "--workers",
        "1",
        "--api-processes",
        "1",
    ]
    run = subprocess.run(
        [*command, "--connections", "4"], cwd=ROOT, capture_output=True, text=True, check=False, timeout=240
    )

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    for phase in ("1. enqueue", "2. drain", "3. both at once"):
        assert phase in run.stdout
    assert "HTTP errors 0" in run.stdout
    assert "duplicates 0" in run.stdout  # each accepted job that was not purged ran exactly once
    assert "load average before" in run.stdout


def _counts() -> dict[str, object]:
    """One bench.counts run's raw figures: the template's worker over taskiq's, its Redis work flat."""

    def per_job(commands: float, cpu: float) -> dict[str, object]:
        return {"commands": commands, "cpu_us": cpu, "by_command": {"evalsha": 2.0}}

    def idle(rate: float) -> dict[str, object]:
        return {"commands_per_second": rate, "by_command": {"blpop": rate}}

    return {
        "made_at": "2026-12-06 23:00 UTC",
        "command": "python -m bench.counts",
        "sizes": {"requests": 96, "jobs": 300, "redis_jobs": 2000, "worker_counts": [1, 8]}
        | {"idle_seconds": 5},
        "versions": {"saq": "0.26.4"},
        "http": {"template": 1_100_000.0, "template route": 1_000_000.0, "saq": 1_200_000.0},
        "worker": {"template": 1_000_000.0, "taskiq results": 900_000.0, "taskiq": 800_000.0},
        "redis": {
            "template": {"1": per_job(8.0, 30.0), "8": per_job(9.0, 31.0)},
            "taskiq results": {"1": per_job(3.0, 25.0), "8": per_job(3.0, 25.0)},
        },
        "idle": {"template": {"1": idle(3.0), "8": idle(6.0)}, "taskiq results": {"1": idle(0.4)}},
    }


def test_the_counts_report_says_which_noise_free_goal_is_met() -> None:
    from bench.report_counts import goals, render

    lines = goals(_counts())

    def row(starts: str) -> str:
        return next(line for line in lines if line.split("|")[2].strip().startswith(starts))

    assert "0.92x" in row("`POST /signup` as shipped")
    assert "**met**" in row("`POST /signup` as shipped")
    assert "1.10x" in row("what the shipped app adds")
    assert "**not met**" in row("what the shipped app adds")
    assert "1.11x" in row("one worker")
    assert "**not met**" in row("one worker")
    assert "1.25x" in row("the same vs taskiq without")
    assert "**not met**" in row("the same vs taskiq without")
    assert "9.0" in row("Redis commands per job, worst")
    assert "**met**" in row("Redis commands per job, worst")
    assert "31 µs, 1.24x" in row("Redis CPU per job")
    assert "6.0" in row("idle commands/s")
    assert "**not met**" in row("idle commands/s")
    assert "| this template as shipped | 8.0 / 9.0 | 30 / 31 | 3.0 / 6.0 |" in render(_counts())


def test_the_benchmark_report_leads_with_the_last_counts_run(tmp_path: Path) -> None:
    from bench.report import with_counts

    report = "# Benchmarks\n\nMade with run.py.\n\n## Goals: peers\n\n| a |\n"
    counts = tmp_path / "benchmarks-counts.md"
    assert with_counts(report, counts) == report  # no counts run yet: unchanged

    counts.write_text("# Noise-free goals\n\nMade with bench.counts.\n\n| goal |\n")
    text = with_counts(report, counts)

    assert text.index("## Noise-free goals") < text.index("## Goals: peers")
    assert text.startswith("# Benchmarks\n\nMade with run.py.\n")
    assert "| goal |" in text

    counts.write_text("# Noise-free goals\n\nMade with bench.counts, again.\n\n| goal |\n")
    again = with_counts(text, counts)

    assert again.count("## Noise-free goals") == 1  # the earlier run's section replaced
    assert "again." in again
    assert again.index("## Noise-free goals") < again.index("## Goals: peers")
