"""How many jobs a second one Redis takes through this template, and what runs out first.

    python3 bench/capacity.py                 # about a minute and a half; prints a Markdown report
    python3 bench/capacity.py --workers 2 --api-processes 1 --seconds 5

Everything is real and local: its own redis-server (AOF on, fsync every second, as in production), the
API under `uvicorn --workers N` (`bench.app`, whose `POST /bench/noop` enqueues a no-op job the way a
producer route does), W `arq bench.workers.Template` worker processes (every hook on), and wrk.

Three phases, each timed on its own:
1. enqueue: the queue is paused, wrk posts for `--seconds`: the API's enqueue rate alone;
2. drain: resume, time until the backlog is gone: the workers' rate alone;
3. both: wrk posts while the workers run: what the whole thing sustains (and whether the backlog grows).
For each phase it reports the CPU each part used (in cores: 1.0 is one core busy all the time) from
/proc and Redis's own INFO, and the Redis commands each job cost. A part near 1.0 per process, or the
machine near its core count, is what saturates. The figures are from a shared machine: record the load
(printed) and compare runs only with each other.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":  # `python3 bench/capacity.py`: into the project's venv, then import from the root
    sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]
    import _bootstrap  # type: ignore[import-not-found,unused-ignore]  # found when mypy also checks scripts/

    _bootstrap.enter_venv()

import redis  # noqa: E402
import redis.asyncio  # noqa: E402
from arqkit import keys, queue_control  # noqa: E402
from arqkit.redis_server import RedisServer, free_port  # noqa: E402

from bench.load import ensure_wrk, load_generator_name, run_load  # noqa: E402
from bench.procs import environment  # noqa: E402
from devtools.http_service import wait_until_healthy  # noqa: E402

QUEUE = "arq:queue"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuSample:
    at: float
    per_part: dict[str, float]  # part -> CPU seconds used so far
    machine_busy: float  # CPU seconds the whole machine was busy (every process, every core)
    redis_commands: int


@dataclass(frozen=True)
class Phase:
    name: str
    seconds: float
    jobs_enqueued: int
    jobs_done: int
    cores: dict[str, float]  # part -> average cores used
    machine_cores: float
    redis_commands: int

    def rate(self, jobs: int) -> float:
        return jobs / self.seconds if self.seconds else 0.0


class Parts:
    """The processes whose CPU is measured, by part: api, workers, redis (from INFO), load (wrk)."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.pids: dict[str, list[int]] = {"api": [], "workers": []}

    def sample(self) -> CpuSample:
        per_part = {part: sum(_process_cpu(pid) for pid in pids) for part, pids in self.pids.items()}
        info: dict[str, Any] = self.client.info()  # type: ignore[assignment]  # redis-py's sync/async union
        per_part["redis"] = float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
        return CpuSample(time.monotonic(), per_part, _machine_busy(), int(info["total_commands_processed"]))


def _process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process and its waited-for children used, from /proc/<pid>/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / CLOCK_TICKS  # utime stime cutime cstime


def _machine_busy() -> float:
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / CLOCK_TICKS


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def _phase(name: str, before: CpuSample, after: CpuSample, enqueued: int, done: int) -> Phase:
    seconds = after.at - before.at
    cores = {part: (after.per_part[part] - before.per_part[part]) / seconds for part in after.per_part}
    return Phase(
        name,
        seconds,
        enqueued,
        done,
        cores,
        (after.machine_busy - before.machine_busy) / seconds,
        after.redis_commands - before.redis_commands,
    )


@contextmanager
def api(redis_url: str, processes: int, parts: Parts) -> Iterator[str]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "bench.app:app", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", str(processes), "--loop", "uvloop", "--http", "httptools"]
    command += ["--no-access-log", "--log-level", "warning"]
    env = environment(redis_url, {"RATE_LIMIT_ENABLED": "false", "LOG_LEVEL": "WARNING"})
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url + "/healthz", process, timeout=60)
        parts.pids["api"] = [process.pid, *_children(process.pid)]
        yield url
    finally:
        process.terminate()
        process.wait(30)


@contextmanager
def workers(redis_url: str, count: int, parts: Parts) -> Iterator[None]:
    env = environment(redis_url, {"LOG_LEVEL": "WARNING"})
    started = [
        subprocess.Popen(
            [sys.executable, "-m", "arq", "bench.workers.Template"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]
    parts.pids["workers"] = [process.pid for process in started]
    try:
        deadline = time.monotonic() + 60
        while _size(parts.client, keys.WORKERS) < count:
            if time.monotonic() > deadline or any(p.poll() is not None for p in started):
                raise RuntimeError("the workers did not start")
            time.sleep(0.1)
        yield
    finally:
        for process in started:
            process.terminate()
        for process in started:
            process.wait(30)


def _size(client: redis.Redis, key: str) -> int:
    """A sorted set's size: the queue's depth (due, deferred and running jobs), or the live workers."""
    return int(client.zcard(key))  # type: ignore[arg-type]  # redis-py's sync/async union


def _accepted(client: redis.Redis) -> int:
    """202s the API answered so far, from its flushed request counter (`arqkit.metrics`, every second)."""
    raw = client.hget(keys.METRICS, '["http_requests","POST","/bench/noop","202"]')
    return int(raw or 0)  # type: ignore[arg-type]  # redis-py's sync/async union


def measure(args: argparse.Namespace) -> tuple[list[Phase], str]:
    wrk = ensure_wrk()
    with ExitStack() as stack:
        server = stack.enter_context(RedisServer())
        client = stack.enter_context(redis.Redis.from_url(server.url))
        client.config_set("appendonly", "yes")  # as production runs it (compose.yaml, deploy/k8s)
        client.config_set("appendfsync", "everysec")
        parts = Parts(client)
        url = stack.enter_context(api(server.url, args.api_processes, parts))
        stack.enter_context(workers(server.url, args.workers, parts))
        target = url + "/bench/noop"
        run_load(wrk, target, b"{}", args.connections, 2)  # warm up the processes and their pools
        purged = _drain(client, server.url, timeout=args.seconds * 2)[1]
        asyncio.run(_control(server.url, queue_control.pause))

        before = parts.sample()
        alone = run_load(wrk, target, b"{}", args.connections, args.seconds)
        after = parts.sample()
        backlog = _size(client, QUEUE)
        phases = [_phase("1. enqueue (API only, queue paused)", before, after, backlog, 0)]

        before = parts.sample()
        asyncio.run(_control(server.url, queue_control.resume))
        left, dropped = _drain(client, server.url, timeout=args.seconds * 2)
        purged += dropped
        after = parts.sample()
        phases.append(_phase(f"2. drain ({args.workers} workers)", before, after, 0, backlog - left))

        time.sleep(1.5)  # the last flush of phase 1's request counts
        accepted_before, backlog_before = _accepted(client), _size(client, QUEUE)
        before = parts.sample()
        both = run_load(wrk, target, b"{}", args.connections, args.seconds)
        after = parts.sample()
        backlog_after = _size(client, QUEUE)
        time.sleep(1.5)
        accepted = _accepted(client) - accepted_before
        done = accepted - (backlog_after - backlog_before)
        phases.append(_phase("3. both at once", before, after, accepted, done))
        purged += _drain(client, server.url, timeout=args.seconds)[1]
        time.sleep(1.5)  # the workers' last counts land
        expected_runs = _accepted(client) - purged
        duplicates = _runs(client) - expected_runs
        notes = (
            f"{load_generator_name(wrk)}; enqueue latency alone p50 {alone.p50_ms:.1f} ms, "
            f"p99 {alone.p99_ms:.1f} ms; with the workers running p50 {both.p50_ms:.1f} ms, "
            f"p99 {both.p99_ms:.1f} ms; HTTP errors {alone.errors + both.errors}; "
            f"backlog left after phase 2: {left} jobs (dropped), after phase 3: {backlog_after}; "
            f"soak: {expected_runs} jobs accepted and not purged, {expected_runs + duplicates} runs: "
            f"duplicates {duplicates}"
        )
        return phases, notes


async def _control(
    redis_url: str, operation: Callable[[redis.asyncio.Redis, str], Awaitable[object]]
) -> object:
    async with redis.asyncio.Redis.from_url(redis_url) as client:
        return await operation(client, QUEUE)


def _drain(client: redis.Redis, redis_url: str, timeout: float) -> tuple[int, int]:
    """Wait until the queue is empty, for at most `timeout` s; then purge what is left, so the run's
    length stays bounded on a slow machine. Returns (jobs left at the timeout, jobs purged unrun)."""
    deadline = time.monotonic() + timeout
    while (left := _size(client, QUEUE)) and time.monotonic() < deadline:
        time.sleep(0.05)
    if not left:
        return 0, 0
    asyncio.run(_control(redis_url, queue_control.pause))  # a purge wants a paused queue (README)
    time.sleep(0.5)  # claims that began before the pause complete: such a job runs and is not purged
    purged = asyncio.run(_control(redis_url, queue_control.purge))
    asyncio.run(_control(redis_url, queue_control.resume))
    while _size(client, QUEUE):  # the running jobs the purge kept
        time.sleep(0.05)
    assert isinstance(purged, int)
    return left, purged


def _runs(client: redis.Redis) -> int:
    """Runs of the no-op job so far, from the workers' flushed counter (a retry would count too)."""
    counts: dict[bytes, bytes] = client.hgetall(keys.METRICS)  # type: ignore[assignment]  # sync/async union
    prefix = b'["jobs_started","bench_noop"'  # whatever its queue label
    return sum(int(count) for field, count in counts.items() if field.startswith(prefix))


def report(args: argparse.Namespace, phases: list[Phase], notes: str, load_before: str) -> str:
    lines = [
        f"capacity: {args.api_processes} API processes, {args.workers} workers, {args.connections} "
        f"connections, {args.seconds:.0f} s per load phase; {os.cpu_count()} cores",
        f"load average before: {load_before}; after: {_loadavg()} (a shared machine: the figures are noisy)",
        notes,
        "",
        "| phase | s | enqueued/s | done/s | API cores | worker cores | Redis cores | machine cores "
        "| Redis cmds/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for p in phases:
        lines.append(
            f"| {p.name} | {p.seconds:.1f} | {p.rate(p.jobs_enqueued):.0f} | {p.rate(p.jobs_done):.0f} "
            f"| {p.cores['api']:.2f} | {p.cores['workers']:.2f} | {p.cores['redis']:.2f} "
            f"| {p.machine_cores:.2f} | {p.redis_commands / p.seconds:.0f} |"
        )
    enqueue, drain = phases[0], phases[1]
    commands = enqueue.redis_commands / max(enqueue.jobs_enqueued, 1) + drain.redis_commands / max(
        drain.jobs_done, 1
    )
    redis_seconds = enqueue.cores["redis"] * enqueue.seconds / max(enqueue.jobs_enqueued, 1)
    redis_seconds += drain.cores["redis"] * drain.seconds / max(drain.jobs_done, 1)
    lines += [
        "",
        f"One job's life in Redis (phase 1 per enqueue + phase 2 per run): {commands:.0f} commands, "
        f"{redis_seconds * 1e6:.0f} µs of Redis CPU: one Redis core kept busy would take "
        f"~{1 / redis_seconds:.0f} jobs/s end to end (an extrapolation: Redis runs commands on one "
        "thread; idle workers' polls and the metrics flushes are counted in, so it is a floor).",
    ]
    return "\n".join(lines)


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--api-processes", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    load_before = _loadavg()
    phases, notes = measure(args)
    print(report(args, phases, notes, load_before))


if __name__ == "__main__":
    main()
