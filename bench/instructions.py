"""Instructions per `POST /signup`, counted by callgrind: a figure that other work on the machine cannot move.

    .venv/bin/python -m bench.instructions [--variants route,middleware,...] [--requests 192]

(`bench/counts.py` runs the same count for the peers' apps and workers, and makes the goals table.)

req/s and CPU time per request move by 10-30% on a shared machine; instruction counts do not, so small
changes to the request path can be priced here (valgrind from apt-get, `apt-get install valgrind`). Each
variant runs twice under `valgrind --tool=callgrind` with its own redis-server: `--requests` and a
third of that. The difference divided by the difference in requests is the figure, so start-up and
warm-up cancel out; only the requests are instrumented (start-up runs uninstrumented, five times
faster), and the app's timer work (metrics flush, dashboard sampler: paid per second, not per request)
is off. The requests are driven in-process through the ASGI app (`bench/peers/asgi_drive.py`: 32
concurrent callers, the same body as the benchmark), so uvicorn's own share, the same for every app, is
not counted.

Variants, each adding to the one before:
- `route`: the template's `/signup` route and `JobQueue` on a minimal app (bench/peers/template_app.py);
- `middleware`: that, under the template's `RequestMiddleware` (request id, access line, metrics, budget);
- `rate-limit`: that, with the rate limit on (decided in the enqueue's Lua call);
- `shipped`: the template's app as the benchmark runs it (`bench.app`: every route), rate limit on;
- `shipped-quiet`: the same at LOG_LEVEL=WARNING, so without the access line.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

VARIANTS = ("route", "middleware", "rate-limit", "shipped", "shipped-quiet")


def variant_env(variant: str) -> dict[str, str]:
    """The environment of a variant's run, on top of bench.procs.environment (JSON lines at INFO)."""
    from bench.counts import TIMERS_OFF

    rate_limit = variant in ("rate-limit", "shipped", "shipped-quiet")
    env = {**TIMERS_OFF, "RATE_LIMIT_ENABLED": str(rate_limit).lower(), "RATE_LIMIT_SIGNUP": "1000000/second"}
    if variant == "shipped-quiet":
        env["LOG_LEVEL"] = "WARNING"
    return env


def main() -> None:
    from bench.counts import HttpSubject, ensure_valgrind, http_instructions

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help="comma-separated: " + ", ".join(VARIANTS)
    )
    parser.add_argument("--requests", type=int, default=192, help="requests in the longer of the two runs")
    args = parser.parse_args()
    ensure_valgrind(lambda line: print(f"==> {line}", flush=True))
    for variant in args.variants.split(","):
        if variant not in VARIANTS:
            sys.exit(f"unknown variant {variant!r}: one of {', '.join(VARIANTS)}")
        subject = HttpSubject(
            variant, None, f"bench.instructions:variant_app:{variant}", variant_env(variant)
        )
        per_request = http_instructions(subject, args.requests)
        print(f"{variant:14s} {per_request:12,.0f} instructions per request", flush=True)


def variant_app(variant: str) -> Any:
    """The ASGI app of a variant (bench.peers.asgi_drive builds it in the process callgrind counts)."""
    return _app(variant)


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


if __name__ == "__main__":
    main()
