"""What the API rate limiter costs: requests/s on `GET /jobs/{id}` with and without it, in the same run.

    .venv/bin/python -m bench.ratelimit_cost [--seconds 10] [--rounds 3] [--connections 32] [--clients 1000]

It starts its own redis-server and two API processes (`bench.procs.api_server`: the template's app,
pinned to one core) on the same Redis, identical but for `RATE_LIMIT_ENABLED`, then loads them in turn
(off, on, off, on, ...) with wrk, a separate process pinned to the other core. wrk sends an `X-API-Key`
that rotates over `--clients` keys, so every request is counted in some client's window and none is
refused: what is measured is the cost of admitting a request.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import AbstractContextManager

from arqkit import keys
from arqkit.client import JobQueue
from arqkit.internals.connection import create_api_redis
from arqkit.redis_server import RedisServer, free_port
from arqkit.sliding_window import Rate, SlidingWindowLimiter

from bench.procs import LOAD_CORE, api_server, pinned
from jobs.registry import REGISTRY
from jobs.tasks.email import send_welcome_email
from settings import Settings

WRK_SCRIPT = """
counter = 0
request = function()
  counter = counter + 1
  wrk.headers["X-API-Key"] = "client-" .. (counter % {clients})
  return wrk.format("GET", "{path}")
end
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=int, default=10, help="length of one load round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per variant, interleaved")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--clients", type=int, default=1000, help="distinct API keys the load rotates over")
    args = parser.parse_args()
    wrk = shutil.which("wrk")
    if wrk is None:
        sys.exit("wrk is needed (apt-get install wrk)")

    with RedisServer() as redis_server:
        job_id = asyncio.run(_one_job(redis_server.url))
        get_us, acquire_us = asyncio.run(_client_cpu_per_call(redis_server.url))
        path = f"/jobs/{job_id}"
        results: dict[str, list[tuple[float, float, int]]] = {"off": [], "on": []}
        with _api(redis_server.url, limiter=False) as off, _api(redis_server.url, limiter=True) as on:
            for _ in range(args.rounds):
                for name, url in (("off", off), ("on", on)):
                    results[name].append(_wrk(wrk, url + path, args))

    load = f"{args.connections} connections, {args.clients} clients, {args.seconds}s x {args.rounds} rounds"
    print(f"GET /jobs/{{id}}, {load}")
    for name, rounds in results.items():
        rates = ", ".join(f"{r:.0f}" for r, _, _ in rounds)
        refused = sum(n for _, _, n in rounds)
        print(
            f"limiter {name:>3}: requests/s {rates} (median {_median(rounds, 0):.0f}); "
            f"p50 {_median(rounds, 1):.2f} ms; non-2xx {refused}"
        )
    print(f"in one process, CPU per call: GET {get_us:.0f} us, limiter {acquire_us:.0f} us")
    off_rate, on_rate = _median(results["off"], 0), _median(results["on"], 0)
    print(
        f"throughput with the limiter: {on_rate / off_rate:.1%} of without; "
        f"cost per request: {(1 / on_rate - 1 / off_rate) * 1e6:.0f} us of the server's core"
    )


async def _one_job(redis_url: str) -> str:
    settings = Settings(redis_url=redis_url)
    pool = create_api_redis(settings)
    try:
        job = await JobQueue(pool, settings, REGISTRY).enqueue(
            send_welcome_email, email="a@example.com", name="A"
        )
    finally:
        await pool.aclose()
    return job.job_id


async def _client_cpu_per_call(redis_url: str, calls: int = 2000, repeats: int = 5) -> tuple[float, float]:
    """Median client-side CPU (us) of one plain GET and of one limiter decision, each one round trip."""
    pool = create_api_redis(Settings(redis_url=redis_url))
    limiter, rate = SlidingWindowLimiter(pool), Rate(600, 60)

    async def get(n: int) -> object:
        return await pool.get(keys.job("bench-nothing"))

    async def decide(n: int) -> object:
        return await limiter.acquire(keys.rate_window("bench", str(n % 1000)), rate)

    samples: dict[str, list[float]] = {"get": [], "decide": []}
    try:
        for _ in range(repeats):  # interleaved; the first pass (it opens the connection) is left out
            for name, call in (("get", get), ("decide", decide)):
                started = time.process_time()
                for n in range(calls):
                    await call(n)
                samples[name].append((time.process_time() - started) / calls * 1e6)
    finally:
        await pool.aclose()
    return statistics.median(samples["get"][1:]), statistics.median(samples["decide"][1:])


def _api(redis_url: str, *, limiter: bool) -> AbstractContextManager[str]:
    """The template's app (`bench.app`: the same routes and middleware) on its own core, limiter on or off."""
    overrides = {"RATE_LIMIT_ENABLED": str(limiter).lower(), "RATE_LIMIT_STATUS": "600/minute"}
    return api_server(redis_url, free_port(), {**overrides, "LOG_LEVEL": "WARNING"})


def _wrk(wrk: str, url: str, args: argparse.Namespace) -> tuple[float, float, int]:
    """(requests/s, p50 ms, non-2xx responses) of one round."""
    path = "/" + url.split("/", 3)[3]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT.replace("{clients}", str(args.clients)).replace("{path}", path))
    try:
        command = [wrk, "-t1", f"-c{args.connections}", f"-d{args.seconds}s", "--latency", "-s", script.name]
        command.append(url)
        output = subprocess.run(pinned(command, LOAD_CORE), capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script.name)
    rate = float(_field(r"Requests/sec:\s+([\d.]+)", output))
    p50 = _millis(_field(r"50%\s+([\d.]+\w+)", output))
    refused = int(_field(r"Non-2xx or 3xx responses:\s+(\d+)", output, "0"))
    return rate, p50, refused


def _field(pattern: str, text: str, default: str | None = None) -> str:
    match = re.search(pattern, text)
    if match:
        return match.group(1)
    if default is None:
        raise RuntimeError(f"unexpected wrk output:\n{text}")
    return default


def _millis(duration: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", duration).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _median(rounds: list[tuple[float, float, int]], field: int) -> float:
    return statistics.median(r[field] for r in rounds)


if __name__ == "__main__":
    main()
