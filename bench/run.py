#!/usr/bin/env python3
"""Side-by-side benchmarks of the queue: `python3 bench/run.py` (minutes) or `--smoke` (seconds).

Starts its own redis-server, runs every comparison in alternating rounds on this machine, and writes
docs/benchmarks.md and docs/benchmarks-latency.png. Absolute numbers on a shared machine mean little;
the ratios between variants measured in the same rounds are the result.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":  # `python3 bench/run.py`: get into the project's venv, then import from the root
    sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]
    import _bootstrap  # type: ignore[import-not-found,unused-ignore]  # found when mypy also checks scripts/

    _bootstrap.enter_venv()

from bench import results as r  # noqa: E402
from bench.load import ensure_wrk, load_generator_name, run_load  # noqa: E402
from bench.procs import api_server  # noqa: E402
from bench.queue_bench import WorkerRun, measure_idle_and_pickup, measure_throughput  # noqa: E402
from bench.report import Report, write_report  # noqa: E402
from bench.results import Results, Sizes, from_json, to_json  # noqa: E402
from devtools.redis_server import RedisServer, free_port  # noqa: E402

FULL = Sizes(3, 8.0, 32, 60, 5.0, 2000, (0.005, 0.01, 0.02, 0.1), (0.25, 5.0))
RAW_NAME = "benchmarks-raw.json"
SMOKE = Sizes(1, 1.0, 4, 2, 0.3, 20, (0.01,), (0.25,))

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


def bench_http(
    redis: RedisServer, sizes: Sizes, results: Results, wrk: str | None, say: Callable[[str], None]
) -> None:
    from contextlib import ExitStack

    with ExitStack() as stack:
        urls = {
            name: stack.enter_context(api_server(redis.url, free_port(), env))
            for name, env in SERVERS.items()
        }
        for server, path in ENDPOINTS.values():  # warm-up: imports, connection pools, caches
            run_load(wrk, urls[server] + path, SIGNUP, sizes.connections, 1)
        for round_index in range(sizes.rounds):
            for name in rotated(list(ENDPOINTS), round_index):
                server, path = ENDPOINTS[name]
                _flush(redis)
                result = run_load(wrk, urls[server] + path, SIGNUP, sizes.connections, sizes.http_seconds)
                results.http.setdefault(name, []).append(result)
                say(f"http round {round_index + 1} {name}: {result.requests_per_second:.0f} req/s")


def bench_pickup(redis: RedisServer, sizes: Sizes, results: Results, say: Callable[[str], None]) -> None:
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes: checks the harness, measures nothing"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where benchmarks.md and the plot go")
    parser.add_argument(
        "--render-only", action="store_true", help="re-render the report from the last raw figures"
    )
    args = parser.parse_args(argv)
    sizes = SMOKE if args.smoke else FULL
    raw_path = args.out / RAW_NAME

    def say(line: str) -> None:
        print(f"==> {line}", flush=True)

    wrk = ensure_wrk(install=not args.smoke and not args.render_only)  # smoke: the httpx fallback, no install
    if args.render_only:
        results, sizes = from_json(raw_path.read_bytes())
    else:
        results = Results()
        with RedisServer() as redis:
            bench_http(redis, sizes, results, wrk, say)
            bench_pickup(redis, sizes, results, say)
            bench_throughput(redis, sizes, results, say)
            bench_curve(redis, sizes, results, say)
        args.out.mkdir(parents=True, exist_ok=True)
        raw_path.write_bytes(to_json(results, sizes))
    command = "python3 bench/run.py" + (" --smoke" if args.smoke else "")
    report = Report(results, sizes, command, load_generator_name(wrk), smoke=args.smoke)
    path = write_report(report, args.out)
    say(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
