#!/usr/bin/env python3
"""Side-by-side benchmarks of the queue: `python3 bench/run.py` (~18 min) or `--smoke` (seconds).

Starts its own redis-server, runs every comparison in alternating rounds on this machine, and writes
docs/benchmarks.md, docs/benchmarks-latency.png and docs/benchmarks-peers.png. The peer libraries
(Celery, saq, streaq, taskiq) run from venvs it creates under .bench/venvs (pip, once); wrk comes
from apt-get when it is missing and we are root. Absolute numbers on a shared machine mean little;
the ratios between variants measured in the same rounds are the result.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":  # `python3 bench/run.py`: get into the project's venv, then import from the root
    sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]
    import _bootstrap  # type: ignore[import-not-found,unused-ignore]  # found when mypy also checks scripts/

    _bootstrap.enter_venv()

from arqkit.redis_server import RedisServer, free_port  # noqa: E402

from bench import peer_bench as pb  # noqa: E402
from bench import results as r  # noqa: E402
from bench.load import ensure_wrk, load_generator_name, run_load  # noqa: E402
from bench.procs import LOAD_CORE, api_server  # noqa: E402
from bench.queue_bench import WorkerRun, measure_idle_and_pickup, measure_throughput  # noqa: E402
from bench.report import Report, write_report  # noqa: E402
from bench.results import Results, Sizes, from_json, to_json  # noqa: E402

FULL = Sizes(3, 6.0, 32, 50, 5.0, 2000, (0.005, 0.01, 0.02, 0.1), (0.25, 5.0), 3000, 120.0)
QUICK = Sizes(1, 4.0, 32, 30, 2.0, 1000, (0.01,), (1.0,), 2000, 90.0)
RAW_NAME = "benchmarks-raw.json"
SMOKE = Sizes(1, 1.0, 4, 2, 0.3, 20, (0.01,), (0.25,), 20, 2.0)

SIGNUP = b'{"email": "ada@example.com", "name": "Ada"}'
NO_RATE_LIMIT = {"RATE_LIMIT_ENABLED": "false"}
# On, and high enough that it never refuses: what is priced is its Redis round trip, not a 429.
RATE_LIMIT_ON = {"RATE_LIMIT_ENABLED": "true", "RATE_LIMIT_SIGNUP": "1000000/second"}
QUIET_LOGS = {**NO_RATE_LIMIT, "LOG_LEVEL": "WARNING"}

# name -> (server, path); servers: name -> environment
SERVERS = {"template": NO_RATE_LIMIT, "rate limit on": RATE_LIMIT_ON, "no request log": QUIET_LOGS}
ENDPOINTS = {
    r.SIGNUP: ("template", "/signup"),
    r.SIGNUP_RATE_LIMITED: ("rate limit on", "/signup"),
    r.SIGNUP_NO_REQUEST_LOG: ("no request log", "/signup"),
    r.ENQUEUE_JOB: ("template", "/bench/signup-enqueue-job"),
    r.BACKGROUND: ("template", "/bench/signup-background"),
    r.BARE: ("template", "/bench/bare"),
}


def _polling(poll_delay: float) -> WorkerRun:
    return WorkerRun("TemplatePolling", {"WORKER_POLL_DELAY_SECONDS": str(poll_delay)}, True)


PICKUP = {
    r.PICKUP_ARQ: WorkerRun("ArqDefaults", {}, False),
    r.PICKUP_BEFORE: _polling(0.05),
    r.PICKUP_TEMPLATE: WorkerRun("Template", {}, True),
}
THROUGHPUT = {
    r.RAW_DEFAULTS: WorkerRun("ArqDefaults", {}, False),
    r.RAW_TUNED: WorkerRun("ArqTuned", {}, False),
    r.TEMPLATE: WorkerRun("Template", {}, True),
    r.NO_LOGS: WorkerRun("Template", {"LOG_LEVEL": "WARNING"}, True),
    r.NO_JOB_HOOKS: WorkerRun("TemplateNoJobHooks", {}, True),
    r.NO_WRAPPER: WorkerRun("TemplateNoWrapper", {}, True),
    r.POLLING: _polling(0.01),
    r.ARQ_CLAIM: WorkerRun("TemplateArqClaim", {}, True),
    r.RAW_TUNED_BATCH_CLAIM: WorkerRun("ArqTunedBatchClaim", {}, False),
}


def rotated(names: Sequence[str], round_index: int) -> list[str]:
    """Each round starts with a different variant, so no variant always runs first (or last)."""
    shift = round_index % len(names)
    return [*names[shift:], *names[:shift]]


Server = Callable[[str], AbstractContextManager[str]]  # redis url -> a running server's base url


def _template_server(env: dict[str, str]) -> Server:
    return lambda redis_url: api_server(redis_url, free_port(), env)


def _peer_server(peer: str) -> Server:
    return lambda redis_url: pb.peer_server(pb.PEERS[peer], redis_url, free_port(), {})


def http_plan(only: str, peers: Sequence[str]) -> tuple[dict[str, Server], dict[str, tuple[str, str]]]:
    """The servers to start and the endpoints to load (name -> (server, path)) for this run."""
    servers: dict[str, Server] = {}
    endpoints: dict[str, tuple[str, str]] = {}
    if only in ("all", "template"):
        servers |= {name: _template_server(env) for name, env in SERVERS.items()}
        endpoints |= ENDPOINTS
    if only in ("all", "peers"):
        servers["rate limit on"] = _template_server(RATE_LIMIT_ON)
        endpoints[r.SIGNUP_RATE_LIMITED] = ("rate limit on", "/signup")
        servers["background"] = _peer_server("background")
        endpoints |= {r.BG_SYNC: ("background", "/signup"), r.BG_ASYNC: ("background", "/signup-async")}
        endpoints[r.BARE_MINIMAL] = ("background", "/bare")
        servers["template core"] = _peer_server("template core")
        endpoints[r.TEMPLATE_CORE] = ("template core", "/signup")
        for peer in peers:
            if peer in r.PEER_HTTP:
                servers[peer] = _peer_server(peer)
                endpoints[r.PEER_HTTP[peer]] = (peer, "/signup")
    return servers, endpoints


def bench_http(
    redis: RedisServer,
    sizes: Sizes,
    results: Results,
    wrk: str | None,
    plan: tuple[dict[str, Server], dict[str, tuple[str, str]]],
    say: Callable[[str], None],
) -> None:
    from contextlib import ExitStack

    servers, endpoints = plan
    with ExitStack() as stack:
        urls = {name: stack.enter_context(server(redis.url)) for name, server in servers.items()}
        for server, path in endpoints.values():  # warm-up: imports, connection pools, caches
            run_load(wrk, urls[server] + path, SIGNUP, sizes.connections, 1)
        for round_index in range(sizes.rounds):
            _record_load(results, f"http round {round_index + 1}")
            for name in rotated(list(endpoints), round_index):
                server, path = endpoints[name]
                _flush(redis)
                result = run_load(wrk, urls[server] + path, SIGNUP, sizes.connections, sizes.http_seconds)
                results.http.setdefault(name, []).append(result)
                say(f"http round {round_index + 1} {name}: {result.requests_per_second:.0f} req/s")


def bench_drain(
    redis: RedisServer, sizes: Sizes, results: Results, peers: Sequence[str], say: Callable[[str], None]
) -> None:
    """Every library's worker drains the same number of pre-queued no-op jobs, rounds alternating."""
    names = [p for p in r.DRAIN if p in peers]
    with tempfile.TemporaryDirectory(prefix="bench-drain-") as workdir:
        for round_index in range(sizes.rounds):
            _record_load(results, f"drain round {round_index + 1}")
            for name in rotated(names, round_index):
                _flush(redis)
                rate = pb.measure_drain(pb.PEERS[name], redis.url, sizes.drain_jobs, Path(workdir))
                results.drain.setdefault(r.DRAIN[name], []).append(rate)
                say(f"drain round {round_index + 1} {name}: {rate:.0f} jobs/s")


def bench_crash(sizes: Sizes, results: Results, peers: Sequence[str], say: Callable[[str], None]) -> None:
    """SIGKILL mid-job, fresh worker, until the job starts again: every library at once, each with its
    own redis-server (a timer, not a throughput: they barely load the machine)."""
    names = [p for p in pb.CRASH_PEERS if p in peers]
    _record_load(results, "crash")
    servers = [RedisServer() for _ in names]
    for server in servers:  # started from this thread, which outlives them (see RedisServer)
        server.start()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="bench-crash-") as workdir,
            ThreadPoolExecutor(len(names)) as pool,
        ):
            cap = sizes.crash_cap_seconds
            futures = {
                name: pool.submit(pb.measure_crash, pb.PEERS[name], server.url, cap, Path(workdir))
                for name, server in zip(names, servers, strict=True)
            }
            for name, future in futures.items():
                seconds = future.result()
                results.crash[name] = seconds
                say(f"crash {name}: " + (f"{seconds:.1f} s" if seconds is not None else f"> {cap:g} s"))
    finally:
        for server in servers:
            server.stop()


def bench_signup_pickup(
    redis: RedisServer, sizes: Sizes, results: Results, say: Callable[[str], None]
) -> None:
    _record_load(results, "pickup from POST /signup")
    for round_index in range(sizes.rounds):
        latencies = pb.measure_signup_pickup(redis.url, sizes.pickup_samples, RATE_LIMIT_ON)
        results.pickup.setdefault(r.PICKUP_SIGNUP, []).append(latencies)
        median = sorted(latencies)[len(latencies) // 2]
        say(f"pickup round {round_index + 1} POST /signup: median {median:.1f} ms")


def _pin_redis(redis: RedisServer) -> None:
    """Redis shares the load generator's core, as in issue 14's set-up: the server core is the app's alone."""
    import shutil
    import subprocess

    import redis as redis_py

    client = redis_py.Redis.from_url(redis.url)
    info: dict[str, Any] = client.info("server")  # type: ignore[assignment]  # typed for sync and async alike
    pid = str(info["process_id"])
    client.close()
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        subprocess.run(["taskset", "-a", "-pc", str(LOAD_CORE), pid], capture_output=True, check=False)


def _record_load(results: Results, phase: str) -> None:
    results.load[phase] = Path("/proc/loadavg").read_text().strip() if Path("/proc/loadavg").exists() else "?"


def bench_pickup(redis: RedisServer, sizes: Sizes, results: Results, say: Callable[[str], None]) -> None:
    _record_load(results, "pickup")
    for round_index in range(sizes.rounds):
        for name in rotated(list(PICKUP), round_index):
            idle, breakdown, latencies = measure_idle_and_pickup(
                redis.url, PICKUP[name], sizes.pickup_samples, sizes.idle_seconds
            )
            results.idle.setdefault(name, []).append(idle)
            results.idle_breakdown[name] = breakdown
            results.pickup.setdefault(name, []).append(latencies)
            say(f"pickup round {round_index + 1} {name}: idle {idle:.1f} cmd/s")


def bench_curve(redis: RedisServer, sizes: Sizes, results: Results, say: Callable[[str], None]) -> None:
    _record_load(results, "curve")
    runs = {f"polling, poll_delay {d * 1000:g} ms": _polling(d) for d in sizes.curve_poll_delays}
    runs |= {
        f"wake-up, idle wait {w:g} s": WorkerRun("Template", {"WORKER_IDLE_WAIT_SECONDS": str(w)}, True)
        for w in sizes.curve_idle_waits
    }
    for name, run in runs.items():
        idle, _, latencies = measure_idle_and_pickup(redis.url, run, sizes.pickup_samples, sizes.idle_seconds)
        results.curve[name] = (idle, latencies)
        say(f"curve {name}: idle {idle:.1f} cmd/s")


def bench_throughput(redis: RedisServer, sizes: Sizes, results: Results, say: Callable[[str], None]) -> None:
    _record_load(results, "throughput")
    for round_index in range(sizes.rounds):
        for name in rotated(list(THROUGHPUT), round_index):
            rate = measure_throughput(redis.url, THROUGHPUT[name], sizes.throughput_jobs)
            results.throughput.setdefault(name, []).append(rate)
            say(f"throughput round {round_index + 1} {name}: {rate:.0f} jobs/s")


def _flush(redis: RedisServer) -> None:
    import redis as redis_py

    client = redis_py.Redis.from_url(redis.url)
    client.flushall()
    client.close()


def available_peers(smoke: bool, results: Results, say: Callable[[str], None]) -> list[str]:
    """Which libraries this run compares. The smoke run uses only the project's venv (no pip)."""
    peers = ["template", "arq", "background"]
    for name in pb.VENV_PEERS:
        if smoke:
            results.skipped.append(f"{name} (smoke run: no peer venvs)")
            continue
        try:
            pb.ensure_venv(name, say)
        except Exception as exc:  # a peer that cannot be installed is left out, and the report says so
            results.skipped.append(f"{name} (its venv could not be made: {exc})")
            continue
        peers.append(name)
        results.versions[name] = pb.package_version(pb.PEERS[name])
    peers += ["celery solo"] if "celery" in peers else []
    results.versions["arq"] = pb.package_version(pb.PEERS["arq"])
    return peers


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes: checks the harness, measures nothing"
    )
    parser.add_argument("--quick", action="store_true", help="one short round of everything (~7 min)")
    parser.add_argument("--rounds", type=int, help="rounds of each comparison (default 3)")
    parser.add_argument(
        "--only",
        choices=("all", "template", "peers"),
        default="all",
        help="template: the template's own variants; peers: the template as shipped vs the other libraries",
    )
    parser.add_argument("--crash-cap", type=float, help="seconds to wait for a crashed job to run again")
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where benchmarks.md and the plot go")
    parser.add_argument(
        "--render-only", action="store_true", help="re-render the report from the last raw figures"
    )
    args = parser.parse_args(argv)
    sizes = SMOKE if args.smoke else QUICK if args.quick else FULL
    if args.rounds:
        sizes = dataclasses.replace(sizes, rounds=args.rounds)
    if args.crash_cap:
        sizes = dataclasses.replace(sizes, crash_cap_seconds=args.crash_cap)
    raw_path = args.out / RAW_NAME

    began = time.monotonic()

    def say(line: str) -> None:
        elapsed = time.monotonic() - began
        print(f"==> [{elapsed // 60:02.0f}:{elapsed % 60:02.0f}] {line}", flush=True)

    wrk = ensure_wrk(install=not args.smoke and not args.render_only)  # smoke: the httpx fallback, no install
    if args.render_only:
        results, sizes = from_json(raw_path.read_bytes())
    else:
        results = Results()
        started = time.monotonic()
        peers = available_peers(args.smoke, results, say) if args.only != "template" else []
        with RedisServer() as redis:
            _pin_redis(redis)
            bench_http(redis, sizes, results, wrk, http_plan(args.only, peers), say)
            if args.only != "peers":
                bench_pickup(redis, sizes, results, say)
                bench_throughput(redis, sizes, results, say)
            if args.only != "template":
                bench_signup_pickup(redis, sizes, results, say)
                bench_drain(redis, sizes, results, peers, say)
            if args.only != "peers":
                bench_curve(redis, sizes, results, say)
        if args.only != "template":
            bench_crash(sizes, results, peers, say)
        results.load["end"] = Path("/proc/loadavg").read_text().strip()
        results.load["duration"] = f"{(time.monotonic() - started) / 60:.1f} min"
        results.made_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        args.out.mkdir(parents=True, exist_ok=True)
        raw_path.write_bytes(to_json(results, sizes))
    flags = [f for f, on in (("--smoke", args.smoke), ("--quick", args.quick)) if on]
    flags += [f"--only {args.only}"] if args.only != "all" else []
    flags += [f"--rounds {args.rounds}"] if args.rounds else []
    command = " ".join(["python3 bench/run.py", *flags])
    report = Report(results, sizes, command, load_generator_name(wrk), smoke=args.smoke)
    path = write_report(report, args.out)
    say(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
