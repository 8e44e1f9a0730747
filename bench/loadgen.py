"""A fallback HTTP load generator where wrk is missing: `python -m bench.loadgen URL --connections 32`.

It runs as its own process (pinned apart from the server), keeps `connections` requests in flight for
`duration` seconds and prints one JSON line: requests/s, latency percentiles (ms) and errors.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx
import orjson


async def _client(client: httpx.AsyncClient, url: str, body: bytes, until: float, out: list[float]) -> int:
    errors = 0
    while time.perf_counter() < until:
        started = time.perf_counter()
        response = await client.post(url, content=body, headers={"content-type": "application/json"})
        out.append(time.perf_counter() - started)
        errors += response.status_code >= 300
    return errors


async def run(url: str, body: bytes, connections: int, duration: float) -> dict[str, float]:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    latencies: list[float] = []
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        started = time.perf_counter()
        until = started + duration
        errors = await asyncio.gather(
            *(_client(client, url, body, until, latencies) for _ in range(connections))
        )
        elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "requests_per_second": len(latencies) / elapsed,
        "p50_ms": cuts[49] * 1000,
        "p90_ms": cuts[89] * 1000,
        "p99_ms": cuts[98] * 1000,
        "max_ms": max(latencies) * 1000,
        "errors": float(sum(errors)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--body", default="{}")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args()
    result = asyncio.run(run(args.url, args.body.encode(), args.connections, args.duration))
    print(orjson.dumps(result).decode())


if __name__ == "__main__":
    main()
