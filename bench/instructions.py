"""Instructions per `POST /signup`, counted by callgrind: a figure that other work on the machine cannot move.

    .venv/bin/python -m bench.instructions [--variants route,middleware,...] [--requests 384]

req/s and CPU time per request move by 10-30% on a shared machine; instruction counts do not, so small
changes to the request path can be priced here (valgrind from apt-get, `apt-get install valgrind`). Each
variant runs twice under `valgrind --tool=callgrind` with its own redis-server: `--requests` and a
third of that. The difference divided by the difference in requests is the figure, so start-up and
imports cancel out. The requests are driven in-process through the ASGI app (32 concurrent callers,
the same body as the benchmark), so uvicorn's own share, the same for every app, is not counted.

Variants, each adding to the one before:
- `route`: the template's `/signup` route and `JobQueue` on a minimal app (bench/peers/template_app.py);
- `middleware`: that, under the template's `RequestMiddleware` (request id, access line, metrics, budget);
- `rate-limit`: that, with the rate limit on (decided in the enqueue's Lua call);
- `shipped`: the template's app as the benchmark runs it (`bench.app`: every route), rate limit on;
- `shipped-quiet`: the same at LOG_LEVEL=WARNING, so without the access line.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import uvloop
from arqkit.redis_server import RedisServer

VARIANTS = ("route", "middleware", "rate-limit", "shipped", "shipped-quiet")
BODY = b'{"email": "ada@example.com", "name": "Ada"}'
CALLERS = 32


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help="comma-separated: " + ", ".join(VARIANTS)
    )
    parser.add_argument("--requests", type=int, default=384, help="requests in the longer of the two runs")
    parser.add_argument("--drive", help=argparse.SUPPRESS)  # internal: the process callgrind counts
    args = parser.parse_args()
    if args.drive:
        _drive(args.drive, args.requests)
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is needed: apt-get install valgrind")
    with RedisServer() as redis_server:
        for variant in args.variants.split(","):
            if variant not in VARIANTS:
                sys.exit(f"unknown variant {variant!r}: one of {', '.join(VARIANTS)}")
            short, long = args.requests // 3, args.requests
            counted = [_instructions(variant, n, redis_server.url) for n in (short, long)]
            per_request = (counted[1] - counted[0]) / (long - short)
            print(f"{variant:14s} {per_request:12,.0f} instructions per request", flush=True)


def _instructions(variant: str, requests: int, redis_url: str) -> int:
    """The instructions one run of `requests` requests took, start-up included."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-m"]
        command += ["bench.instructions", "--drive", variant, "--requests", str(requests)]
        done = subprocess.run(command, env=_environment(variant, redis_url), capture_output=True, text=True)
        found = re.search(r"Collected : (\d+)", done.stderr)
        if done.returncode != 0 or found is None:
            raise RuntimeError(f"{variant}: the run failed:\n{done.stderr[-2000:]}")
        return int(found.group(1))


def _environment(variant: str, redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "LOG_", "RATE_LIMIT"))}
    rate_limit = variant in ("rate-limit", "shipped", "shipped-quiet")
    env |= {"REDIS_URL": redis_url, "LOG_FORMAT": "json", "LOG_LEVEL": "INFO"}
    env |= {"RATE_LIMIT_ENABLED": str(rate_limit).lower(), "RATE_LIMIT_SIGNUP": "1000000/second"}
    if variant == "shipped-quiet":
        env["LOG_LEVEL"] = "WARNING"
    return env


def _app(variant: str) -> Any:
    if variant.startswith("shipped"):
        from bench.app import app

        return app
    from bench.peers.template_app import app as minimal

    if variant != "route":
        from arqkit.logs import configure_logging
        from arqkit.metrics import MetricsBatch
        from arqkit.web.middleware import RequestMiddleware
        from arqkit.web.prometheus import request_observer

        from settings import Settings

        settings = Settings()
        configure_logging(settings)
        minimal.add_middleware(
            RequestMiddleware,
            max_body_bytes=settings.max_body_bytes,
            redis_budget_seconds=settings.redis_request_budget_seconds,
            observe=request_observer(MetricsBatch()),
        )
    return minimal


def _drive(variant: str, requests: int) -> None:
    """`requests` POST /signup through the ASGI app, from 32 concurrent callers on uvloop (as uvicorn
    runs), its log lines to /dev/null."""
    import logging

    app = _app(variant)

    async def drive() -> None:
        async with app.router.lifespan_context(app):
            await asyncio.gather(*(_caller(app, requests // CALLERS) for _ in range(CALLERS)))

    with open(os.devnull, "w") as devnull:
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(devnull)
        uvloop.run(drive())


async def _caller(app: Any, requests: int) -> None:
    headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")]
    headers.append((b"content-length", str(len(BODY)).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/signup",
        "raw_path": b"/signup",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    for _ in range(requests):
        sent: list[dict[str, Any]] = []
        body = [{"type": "http.request", "body": BODY, "more_body": False}]

        async def receive(body: list[dict[str, Any]] = body) -> dict[str, Any]:
            if body:
                return body.pop()
            await asyncio.Event().wait()  # the client stays connected until the response is sent
            raise AssertionError("unreachable")

        async def send(message: dict[str, Any], sent: list[dict[str, Any]] = sent) -> None:
            sent.append(message)

        await app(dict(scope), receive, send)
        if sent[0]["status"] != 202:
            raise RuntimeError(f"POST /signup answered {sent[0]['status']}: {sent}")


if __name__ == "__main__":
    main()
