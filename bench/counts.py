"""The noise-free goals (issue 24): instructions per request and per job, Redis commands and CPU per job.

    .venv/bin/python -m bench.counts              # the whole table, 7-10 min on 2 loaded cores
    .venv/bin/python -m bench.counts --smoke      # tiny sizes, the project's venv only: checks the harness

Wall-clock ratios on a shared 2-core machine swing by 2x between rounds; these figures do not move:

- **instructions** (`valgrind --tool=callgrind`): each app or worker runs twice, for N and N/3 requests
  (jobs); the difference in instructions divided by the difference in requests (jobs) is the figure, so
  start-up and warm-up cancel. Start-up runs uninstrumented (`--instr-atstart=no`) and only the measured
  part is counted (`bench/peers/callgrind.py`). Timer work, paid per wall second and not per request or
  job (the metrics flush, the dashboard's sampler), is switched off in these runs: under callgrind a
  second of wall time holds 50x fewer requests, so it would be charged 50x over (it is in the idle
  figures instead).
- **Redis commands and Redis CPU per job** (`INFO commandstats`, `INFO cpu` deltas on a redis-server of
  its own): a queue of no-op jobs drained by 1, 2, 4, 8 worker processes; the enqueue is not counted.
- **idle commands/s per worker**: the same workers on an empty queue.

Every peer runs from its own venv (`bench/peer_bench.py`) and is driven the same way. Writes
docs/benchmarks-counts.json (raw) and docs/benchmarks-counts.md (the table; docs/benchmarks.md quotes it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
from arqkit.redis_server import RedisServer

from bench import peer_bench as pb
from bench.procs import ROOT

TOGGLE_SOURCE = ROOT / "bench" / "peers" / "callgrind_toggle.c"
TOGGLE_LIB = ROOT / ".bench" / "callgrind_toggle.so"
# Timer work off under callgrind (see the docstring).
TIMERS_OFF = {"METRICS_FLUSH_SECONDS": "3600", "DASHBOARD_SAMPLE_SECONDS": "3600"}
CALLGRIND_TIMEOUT = 900.0  # one callgrind run; a hung one fails the run instead of stalling it


@dataclass(frozen=True)
class HttpSubject:
    """An app whose `POST /signup` is counted: `spec` for bench.peers.asgi_drive, in `venv` (None: ours)."""

    name: str
    venv: str | None
    spec: str
    env: dict[str, str]


def _template(name: str, variant: str) -> HttpSubject:
    from bench.instructions import variant_env

    return HttpSubject(name, None, f"bench.instructions:variant_app:{variant}", variant_env(variant))


HTTP = {
    s.name: s
    for s in (
        _template("template", "shipped"),
        _template("template quiet", "shipped-quiet"),
        _template("template route", "route"),
        HttpSubject("saq", "saq", "bench.peers.saq_app:app", {}),
        HttpSubject("taskiq", "taskiq", "bench.peers.taskiq_app:app", {}),
        HttpSubject("arq", None, "bench.peers.arq_app:app", {}),
    )
}
# Worker subjects are bench.peer_bench.PEERS names; the template's timers off as for HTTP.
WORKERS = ("template", "taskiq results", "taskiq", "arq", "saq")
WORKER_ENV = {"template": TIMERS_OFF, "template no wrapper": TIMERS_OFF, "template no job hooks": TIMERS_OFF}
REDIS_PEERS = ("template", "taskiq results", "taskiq", "saq", "arq")


@dataclass(frozen=True)
class Sizes:
    requests: int  # the longer HTTP run; the shorter is a third of it
    jobs: int  # the longer worker run under callgrind
    redis_jobs: int  # the queue drained for Redis per job
    worker_counts: tuple[int, ...]
    idle_seconds: float


FULL = Sizes(96, 300, 2000, (1, 2, 4, 8), 5.0)
SMOKE = Sizes(96, 30, 60, (1, 2), 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, the project's venv only")
    parser.add_argument("--http", help="comma-separated subjects: " + ", ".join(HTTP))
    parser.add_argument(
        "--workers",
        help="comma-separated subjects: " + ", ".join(WORKERS) + "; also any bench.peer_bench.PEERS",
    )
    parser.add_argument(
        "--redis", help="comma-separated libraries for Redis per job: " + ", ".join(REDIS_PEERS)
    )
    parser.add_argument("--requests", type=int, help="requests in the longer HTTP run")
    parser.add_argument("--jobs", type=int, help="jobs in the longer callgrind worker run")
    parser.add_argument("--redis-jobs", type=int, help="jobs drained for Redis per job")
    parser.add_argument("--worker-counts", help="worker processes for Redis per job, e.g. 1,2,4,8")
    parser.add_argument("--parallel", type=int, default=2, help="callgrind runs at once")
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where the json and md go")
    parser.add_argument("--render-only", action="store_true", help="re-render the md from the json")
    args = parser.parse_args()
    out_json = args.out / "benchmarks-counts.json"
    if args.render_only:
        _write(args.out, json.loads(out_json.read_text()))
        return
    sizes = SMOKE if args.smoke else FULL
    sizes = Sizes(
        args.requests or sizes.requests,
        args.jobs or sizes.jobs,
        args.redis_jobs or sizes.redis_jobs,
        tuple(int(w) for w in args.worker_counts.split(",")) if args.worker_counts else sizes.worker_counts,
        sizes.idle_seconds,
    )
    own = ("template", "template route", "arq")
    http = _pick(args.http, own if args.smoke else HTTP)
    workers = _pick(args.workers, ("template", "arq") if args.smoke else WORKERS)
    redis_peers = _pick(args.redis, ("template",) if args.smoke else REDIS_PEERS)

    began = time.monotonic()

    def say(line: str) -> None:
        elapsed = time.monotonic() - began
        print(f"==> [{elapsed // 60:02.0f}:{elapsed % 60:02.0f}] {line}", flush=True)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stopped: the finally blocks stop its workers
    ensure_valgrind(say)
    venvs = {HTTP[h].venv for h in http} | {pb.PEERS[w].venv for w in [*workers, *redis_peers]}
    for venv in sorted(v for v in venvs if v is not None):
        pb.ensure_venv(venv, say)
    results: dict[str, Any] = {
        "made_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["python -m bench.counts", *sys.argv[1:]]),
        "sizes": sizes.__dict__,
        "versions": {p: pb.package_version(pb.PEERS[p]) for p in ("arq", "saq", "taskiq") if _has(p)},
        "load_start": _loadavg(),
        "http": {},
        "worker": {},
        "redis": {},
        "idle": {},
    }
    for name in redis_peers:
        results["redis"][name], results["idle"][name] = {}, {}
        # the template at every count; a peer at the fewest and the most (it is their growth that matters)
        counts = (
            sizes.worker_counts
            if name == "template"
            else sorted({min(sizes.worker_counts), max(sizes.worker_counts)})
        )
        for count in counts:
            per_job = redis_per_job(pb.PEERS[name], count, sizes.redis_jobs)
            idle = idle_per_worker(pb.PEERS[name], count, sizes.idle_seconds)
            results["redis"][name][str(count)], results["idle"][name][str(count)] = per_job, idle
            say(
                f"redis {name} x{count}: {per_job['commands']:.1f} commands, {per_job['cpu_us']:.0f} us "
                f"Redis CPU per job; idle {idle['commands_per_second']:.1f} commands/s per worker"
            )
    tasks: list[tuple[str, str, Callable[[], float]]] = []
    for name in http:
        tasks.append(("http", name, lambda name=name: http_instructions(HTTP[name], sizes.requests)))  # type: ignore[misc]
    for name in workers:
        tasks.append(("worker", name, lambda name=name: worker_instructions(name, sizes.jobs)))  # type: ignore[misc]
    with ThreadPoolExecutor(max(1, args.parallel)) as pool:
        futures = [(kind, name, pool.submit(task)) for kind, name, task in tasks]
        for kind, name, future in futures:
            results[kind][name] = future.result()
            unit = "request" if kind == "http" else "job"
            say(f"{kind} {name}: {results[kind][name]:,.0f} instructions per {unit}")
    results["load_end"] = _loadavg()
    results["minutes"] = round((time.monotonic() - began) / 60, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(results, indent=1) + "\n")
    say(f"wrote {_write(args.out, results)}")


def _pick(chosen: str | None, default: Any) -> list[str]:
    """The subjects named (`none`: no subject), else the default ones."""
    if chosen is None:
        return list(default)
    return [] if chosen == "none" else chosen.split(",")


def _has(peer: str) -> bool:
    venv = pb.PEERS[peer].venv
    return venv is None or pb.venv_ready(venv)


def _loadavg() -> str:
    path = Path("/proc/loadavg")
    return " ".join(path.read_text().split()[:3]) if path.exists() else "?"


def _write(out: Path, results: dict[str, Any]) -> Path:
    from bench.report_counts import render

    path = out / "benchmarks-counts.md"
    path.write_text(render(results))
    return path


# --- valgrind -----------------------------------------------------------------------------------------


def ensure_valgrind(say: Callable[[str], None]) -> None:
    """valgrind (Debian's package, installed when we are root and apt-get is there) and the client-request
    library, built with gcc from bench/peers/callgrind_toggle.c. Exits with what to install otherwise."""
    header = Path("/usr/include/valgrind/callgrind.h")
    if shutil.which("valgrind") is None or not header.exists():
        if shutil.which("apt-get") is None or os.geteuid() != 0:
            sys.exit("valgrind is needed: `sudo apt-get install valgrind` on Debian, then run this again")
        say("valgrind not found: apt-get update; apt-get install -y valgrind (Debian's package)")
        for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "valgrind"]):
            subprocess.run(command, capture_output=True, check=True, timeout=600)
    if TOGGLE_LIB.exists() and TOGGLE_LIB.stat().st_mtime >= TOGGLE_SOURCE.stat().st_mtime:
        return
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        sys.exit("a C compiler is needed to build the callgrind toggle: `sudo apt-get install gcc`")
    TOGGLE_LIB.parent.mkdir(parents=True, exist_ok=True)
    command = [compiler, "-O2", "-shared", "-fPIC", "-o", str(TOGGLE_LIB), str(TOGGLE_SOURCE)]
    subprocess.run(command, check=True, timeout=120)


def _callgrind(command: list[str], out_dir: Path) -> list[str]:
    return [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        "--trace-children=yes",  # taskiq's worker is a child of its process manager
        f"--callgrind-out-file={out_dir}/callgrind.%p",
        *command,
    ]


def _counted(out_dir: Path) -> int:
    """The instructions between `callgrind.start()` and `.stop()`: the dump that `stop()` wrote."""
    totals = []
    for dump in out_dir.glob("callgrind.*"):
        text = dump.read_text(errors="replace")
        if "Trigger: Client Request: bench" in text:
            found = re.search(r"^totals: (\d+)", text, re.MULTILINE)
            if found:
                totals.append(int(found.group(1)))
    if len(totals) != 1:
        raise RuntimeError(f"expected one callgrind dump in {out_dir}, found {len(totals)}")
    return totals[0]


def _per_unit(measure: Callable[[int], int], n: int) -> float:
    """Instructions per request (job): runs of n and n/3, the difference divided by the difference."""
    short = n // 3
    return (measure(n) - measure(short)) / (n - short)


def _env(redis_url: str, extra: dict[str, str]) -> dict[str, str]:
    from bench.procs import environment

    env = environment(redis_url, extra)
    return {**env, "PYTHONPATH": str(ROOT), "BENCH_CALLGRIND_LIB": str(TOGGLE_LIB)}


# --- instructions per request -------------------------------------------------------------------------


def http_instructions(subject: HttpSubject, requests: int) -> float:
    python = sys.executable if subject.venv is None else str(pb.VENVS / subject.venv / "bin" / "python")
    with RedisServer() as server:

        def measure(n: int) -> int:
            with tempfile.TemporaryDirectory(prefix="bench-cg-") as tmp:
                command = _callgrind(
                    [python, "-m", "bench.peers.asgi_drive", subject.spec, str(n)], Path(tmp)
                )
                env = _env(server.url, subject.env)
                done = subprocess.run(
                    command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=CALLGRIND_TIMEOUT
                )
                if done.returncode != 0:
                    raise RuntimeError(f"{subject.name}: the run failed:\n{done.stderr[-3000:]}")
                return _counted(Path(tmp))

        return _per_unit(measure, requests)


# --- instructions per job -----------------------------------------------------------------------------


def worker_instructions(name: str, jobs: int) -> float:
    """One worker process drains `jobs` no-op jobs queued with the library's own client; counted from its
    first job's start to its `jobs`th (bench.peers.common)."""
    peer = pb.PEERS[name]
    with RedisServer() as server:

        def measure(n: int) -> int:
            redis.Redis.from_url(server.url).flushall()
            with tempfile.TemporaryDirectory(prefix="bench-cg-") as tmp:
                pb._drive(peer, server.url, "noops", str(n))
                events = Path(tmp) / "events"
                env = _env(server.url, {**WORKER_ENV.get(name, {}), "BENCH_EVENTS": str(events)})
                env["BENCH_DRAIN_JOBS"] = str(n)
                process = subprocess.Popen(
                    _callgrind(peer.command(peer.worker), Path(tmp)),
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
                try:
                    _wait_for(
                        lambda: "done" in (events.read_text() if events.exists() else ""),
                        CALLGRIND_TIMEOUT,
                        f"{name}: the drain",
                    )
                finally:
                    _kill_group(process)
                return _counted(Path(tmp))

        return _per_unit(measure, jobs)


def _wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not finish within {timeout:g} s")
        time.sleep(0.05)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(30)


# --- Redis per job, idle ------------------------------------------------------------------------------


def _redis_totals(client: redis.Redis) -> tuple[dict[str, int], float]:
    stats: dict[str, dict[str, int]] = client.info("commandstats")  # type: ignore[assignment]
    cpu: dict[str, float] = client.info("cpu")  # type: ignore[assignment]
    calls = {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}
    return calls, float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


def _delta(
    before: tuple[dict[str, int], float], after: tuple[dict[str, int], float]
) -> tuple[dict[str, int], float]:
    calls = {k: v - before[0].get(k, 0) for k, v in after[0].items() if v != before[0].get(k, 0)}
    calls["info"] = calls.get("info", 0) - 2  # our own two INFO calls (commandstats, cpu)
    return {k: v for k, v in calls.items() if v > 0}, after[1] - before[1]


@contextmanager
def _workers(peer: pb.Peer, redis_url: str, count: int, workdir: Path, ticks: Path) -> Iterator[None]:
    """`count` worker processes of `peer` (not pinned, no callgrind), until each has imported its jobs."""
    ready = workdir / "ready"
    env = {**pb._env(peer, redis_url, WORKER_ENV_REAL), "BENCH_TICKS": str(ticks), "BENCH_READY": str(ready)}
    processes = [
        subprocess.Popen(
            peer.command(peer.worker),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(count)
    ]
    try:
        _wait_for(
            lambda: ready.exists() and len(ready.read_text().split()) >= count, 120, f"{peer.name}: start"
        )
        yield
    finally:
        for process in processes:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                _kill_group(process)


WORKER_ENV_REAL: dict[str, str] = {}  # Redis per job: the template as shipped, timers on


def redis_per_job(peer: pb.Peer, count: int, jobs: int) -> dict[str, Any]:
    """Redis commands and CPU per job while `count` workers drain `jobs` queued no-op jobs (their start-up
    included; the enqueue not)."""
    with RedisServer() as server, tempfile.TemporaryDirectory(prefix="bench-redis-") as tmp:
        client = redis.Redis.from_url(server.url)
        pb._drive(peer, server.url, "noops", str(jobs))
        ticks = Path(tmp) / "ticks"
        before = _redis_totals(client)
        with _workers(peer, server.url, count, Path(tmp), ticks):
            _wait_for(lambda: ticks.exists() and ticks.stat().st_size >= jobs, 600, f"{peer.name}: the drain")
            time.sleep(0.3)  # the last jobs' finishes
            after = _redis_totals(client)
        client.close()
    calls, cpu = _delta(before, after)
    return {
        "commands": sum(calls.values()) / jobs,
        "cpu_us": cpu * 1e6 / jobs,
        "by_command": {k: round(v / jobs, 2) for k, v in sorted(calls.items(), key=lambda kv: -kv[1])},
    }


def idle_per_worker(peer: pb.Peer, count: int, seconds: float) -> dict[str, Any]:
    """Commands/s per worker, `count` workers on an empty queue (measured after 3 s of settling)."""
    with RedisServer() as server, tempfile.TemporaryDirectory(prefix="bench-idle-") as tmp:
        client = redis.Redis.from_url(server.url)
        with _workers(peer, server.url, count, Path(tmp), Path(tmp) / "ticks"):
            time.sleep(3.0)
            before = _redis_totals(client)
            time.sleep(seconds)
            after = _redis_totals(client)
        client.close()
    calls, _ = _delta(before, after)
    per = {k: round(v / seconds / count, 2) for k, v in sorted(calls.items(), key=lambda kv: -kv[1])}
    return {"commands_per_second": sum(calls.values()) / seconds / count, "by_command": per}


if __name__ == "__main__":
    main()
