"""Pickup end to end: from sending `POST /signup` to the job's start, on an idle API and worker.

`python3 bench/signup_pickup.py [--samples N]` starts its own redis-server, the mail sink, one API
process (`uvicorn bench.app:app`) and one worker as shipped (`bench.workers.Template`), then sends one
signup at a time, at random gaps (20-520 ms: the system is idle between them), and reads for each job:
- start: the job's `started_at` as `GET /jobs/{id}` reports it once complete: arq's start time in the
  job's result, taken just before it calls the job function (the worker's clock, to the millisecond);
- receipt: when the email provider (the mail sink) received the job's request.
Both minus the time taken just before the request was sent; one machine, one clock.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":  # `python3 bench/signup_pickup.py`: the project's venv, imports from the root
    sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]
    import _bootstrap  # type: ignore[import-not-found,unused-ignore]

    _bootstrap.enter_venv()

import httpx  # noqa: E402

from bench.procs import api_server, worker  # noqa: E402
from devtools.http_service import http_service  # noqa: E402
from devtools.redis_server import RedisServer, free_port  # noqa: E402

TIMEOUT_SECONDS = 10.0


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


Latencies = tuple[list[float], list[float], list[float]]


def measure(samples: int) -> Latencies:
    """(202 answered, job started, provider received), each after the request was sent, in ms."""
    sink_port, api_port = free_port(), free_port()
    sink_command = [sys.executable, "-m", "devtools.mailsink", "--port", str(sink_port)]
    with RedisServer() as redis, http_service(sink_command, sink_port, cwd=ROOT) as sink:
        env = {"EMAIL_API_URL": sink + "/send", "RATE_LIMIT_ENABLED": "false"}
        with api_server(redis.url, api_port, env) as api, worker(redis.url, "Template", env):
            return _samples(api, sink, samples)


def _samples(api: str, sink: str, samples: int) -> Latencies:
    answers: list[float] = []
    starts: list[float] = []
    receipts: list[float] = []
    with httpx.Client(base_url=api) as client, httpx.Client(base_url=sink) as provider:
        for n in range(samples + 3):  # the first few warm up connections and imports
            time.sleep(random.uniform(0.02, 0.52))
            email = f"pickup-{n}-{random.getrandbits(32)}@example.com"
            sent_at = time.time()
            job_id = client.post("/signup", json={"email": email, "name": "Ada"}).json()["job_id"]
            answered_at = time.time()
            started_at, received_at = _wait(client, provider, job_id, email)
            if n >= 3:
                answers.append((answered_at - sent_at) * 1000)
                starts.append((started_at - sent_at) * 1000)
                receipts.append((received_at - sent_at) * 1000)
    return answers, starts, receipts


def _wait(client: httpx.Client, provider: httpx.Client, job_id: str, email: str) -> tuple[float, float]:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        status = client.get(f"/jobs/{job_id}").json()
        if status["status"] == "complete":
            [delivery] = provider.get("/_control/deliveries", params={"to": email}).json()
            started = datetime.fromisoformat(status["started_at"]).timestamp()
            return started, datetime.fromisoformat(delivery["received_at"]).timestamp()
        time.sleep(0.005)
    raise RuntimeError(f"job {job_id} did not complete within {TIMEOUT_SECONDS}s")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args(argv)
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    answers, starts, receipts = measure(args.samples)
    print(f"load before: {' '.join(load)}; {len(starts)} signups, one at a time")
    rows = {"202 answered": answers, "job started": starts, "provider received": receipts}
    for name, values in rows.items():
        p50, p90, p99 = statistics.median(values), percentile(values, 0.9), percentile(values, 0.99)
        spread = f"p50 {p50:.1f} ms, p90 {p90:.1f} ms, p99 {p99:.1f} ms, max {max(values):.1f} ms"
        print(f"POST /signup -> {name}: {spread}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
