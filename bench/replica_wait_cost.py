"""What REDIS_MIN_REPLICAS=1 costs an enqueue: enqueues/s with N=0 and N=1 on one primary with one replica,
in the same run, rounds alternating (0, 1, 0, 1, ...).

    .venv/bin/python -m bench.replica_wait_cost [--seconds 1] [--rounds 15] [--concurrency 1 32]

It starts its own primary and replica (redis-server, 127.0.0.1) and enqueues through the job client as
the API does (`JobQueue.enqueue`, one pool), from `--concurrency` tasks at once: 1 shows the latency
of a lone enqueue (WAIT adds the replica's acknowledgement to its round trip), more shows throughput
(the enqueues of one event-loop turn share one pipeline and so one WAIT). Prints ratios N=1 / N=0 and
the median and range of the per-round ratios (each round is one N=0 run and one N=1 run, back to back),
and the machine's load before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import redis
from arqkit.client import JobQueue
from arqkit.redis_server import RedisServer

from jobs.registry import REGISTRY
from jobs.tasks.email import send_welcome_email
from settings import Settings


async def _rate(queue: JobQueue, concurrency: int, seconds: float) -> tuple[float, float]:
    """Enqueues per second from `concurrency` tasks for `seconds`, and the median enqueue's milliseconds."""
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    async def loop() -> None:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            await queue.enqueue(send_welcome_email, email="bench@example.com", name="Bench")
            latencies.append(time.perf_counter() - started)

    started = time.monotonic()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return len(latencies) / (time.monotonic() - started), statistics.median(latencies) * 1000


Round = tuple[tuple[float, float], tuple[float, float]]  # (rate, median ms) with N=0, then with N=1


async def _measure(url: str, concurrency: int, seconds: float, rounds: int) -> list[Round]:
    plain = JobQueue.connect(Settings(redis_url=url), REGISTRY)
    waiting = JobQueue.connect(Settings(redis_url=url, redis_min_replicas=1), REGISTRY)
    results = []
    for _ in range(rounds):
        results.append((await _rate(plain, concurrency, seconds), await _rate(waiting, concurrency, seconds)))
        with redis.Redis.from_url(url) as client:
            client.flushall()  # the next round starts from the same empty queue (its own redis-server)
    await plain.aclose()
    await waiting.aclose()
    return results


def _spread(ratios: list[float]) -> str:
    return f"{statistics.median(ratios):.2f} [{min(ratios):.2f}-{max(ratios):.2f}]"


def _has_replica(url: str) -> bool:
    with redis.Redis.from_url(url) as client:
        info: dict[str, Any] = client.info("replication")
    return int(info["connected_slaves"]) > 0


def _load() -> str:
    with open("/proc/loadavg") as loadavg:
        return " ".join(loadavg.read().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0)  # short rounds: load drifts less within a pair
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    args = parser.parse_args()
    fast_sync = ["--repl-diskless-sync-delay", "0"]
    with (
        RedisServer(extra_args=fast_sync) as primary,
        RedisServer(extra_args=["--replicaof", "127.0.0.1", str(primary.port)]),
    ):
        while not _has_replica(primary.url):
            time.sleep(0.05)
        print(f"load before: {_load()}")
        for concurrency in args.concurrency:
            rounds = asyncio.run(_measure(primary.url, concurrency, args.seconds, args.rounds))
            rates = [waiting[0] / plain[0] for plain, waiting in rounds]
            latencies = [waiting[1] / plain[1] for plain, waiting in rounds]
            plain_ms = statistics.median(plain[1] for plain, _ in rounds)
            waiting_ms = statistics.median(waiting[1] for _, waiting in rounds)
            print(
                f"concurrency {concurrency}, {len(rounds)} rounds: enqueues/s N=1/N=0 = {_spread(rates)}; "
                f"median enqueue {plain_ms:.2f} ms vs {waiting_ms:.2f} ms, N=1/N=0 = {_spread(latencies)}"
            )
        print(f"load after: {_load()}")


if __name__ == "__main__":
    main()
