"""What a benchmark run measured, raw: the report derives medians, spreads and ratios from it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import orjson

from bench.load import LoadResult


@dataclass(frozen=True)
class Sizes:
    rounds: int
    http_seconds: float
    connections: int
    pickup_samples: int
    idle_seconds: float
    throughput_jobs: int
    curve_poll_delays: Sequence[float]
    curve_idle_waits: Sequence[float]
    drain_jobs: int = 3000
    crash_cap_seconds: float = 120.0


@dataclass
class Results:
    http: dict[str, list[LoadResult]] = field(default_factory=dict)
    idle: dict[str, list[float]] = field(default_factory=dict)
    idle_breakdown: dict[str, dict[str, float]] = field(default_factory=dict)
    pickup: dict[str, list[list[float]]] = field(default_factory=dict)
    throughput: dict[str, list[float]] = field(default_factory=dict)
    curve: dict[str, tuple[float, list[float]]] = field(default_factory=dict)
    drain: dict[str, list[float]] = field(default_factory=dict)  # no-op jobs/s, per round
    crash: dict[str, float | None] = field(default_factory=dict)  # seconds; None: not within the cap
    versions: dict[str, str] = field(default_factory=dict)  # peer library -> version
    load: dict[str, str] = field(default_factory=dict)  # phase -> /proc/loadavg as it started
    skipped: list[str] = field(default_factory=list)  # peers left out of this run, and why
    made_at: str = ""  # when the run ended (UTC), so a re-rendered report keeps the run's date


# The variants the report compares (run.py defines how each is run).
SIGNUP = "POST /signup (template: one-round-trip enqueue)"
SIGNUP_RATE_LIMITED = "POST /signup as shipped (rate limit on, admits all)"
SIGNUP_NO_REQUEST_LOG = "POST /signup, request log off"
ENQUEUE_JOB = "arq enqueue_job endpoint"
BACKGROUND = "BackgroundTasks endpoint (sync task)"
BARE = "bare endpoint"

PICKUP_ARQ = "arq defaults (poll_delay 0.5 s)"
PICKUP_BEFORE = "template before: polling, poll_delay 0.05 s"
PICKUP_TEMPLATE = "template: wake-up (default settings)"

RAW_DEFAULTS = "arq defaults"
RAW_TUNED = "arq tuned like the template (no hooks)"
TEMPLATE = "template, every hook on"
NO_LOGS = "template, log level WARNING"
NO_JOB_HOOKS = "template, no per-job hooks (on_job_start, after_job_end)"
NO_WRAPPER = "template, no @job wrapper (plain function)"
POLLING = "template, polling instead of wake-up"
ARQ_CLAIM = "template, arq's own claim (job by job) instead of the batch claim"
RAW_TUNED_BATCH_CLAIM = "arq tuned, no hooks, on the template's worker pool (batch claim)"

# The peer comparison: each library's minimal app and worker (bench/peers/), by peer name.
PEER_HTTP = {
    "arq": "arq `enqueue_job`, minimal app",
    "celery": "Celery `.delay()`, minimal app",
    "saq": "saq `enqueue`, minimal app",
    "streaq": "streaq `enqueue`, minimal app",
    "taskiq": "taskiq `kiq` (RedisStreamBroker), minimal app",
}
BG_SYNC = "BackgroundTasks, sync no-op, minimal app (not durable)"
BG_ASYNC = "BackgroundTasks, async no-op, minimal app (not durable)"
BARE_MINIMAL = "bare endpoint, minimal app (no middleware)"
TEMPLATE_CORE = "the template's /signup route and JobQueue, minimal app (no middleware, no rate limit)"
PICKUP_SIGNUP = "template as shipped: POST /signup to job start"
DRAIN = {
    "template": "template, every hook on",
    "arq": "arq tuned like the template (no hooks)",
    "celery": "Celery, threads pool",
    "celery solo": "Celery, solo pool",
    "saq": "saq",
    "streaq": "streaq",
    "taskiq": "taskiq (RedisStreamBroker)",
}
QUEUE_PEERS = ("arq", "celery", "saq", "streaq", "taskiq")  # what goal 1 and 2 compare with


def to_json(results: Results, sizes: Sizes) -> bytes:
    """The raw figures of a run, so the report can be rendered again without measuring again."""
    return orjson.dumps({"sizes": asdict(sizes), "results": asdict(results)}, option=orjson.OPT_INDENT_2)


def from_json(raw: bytes) -> tuple[Results, Sizes]:
    data = orjson.loads(raw)
    res = data["results"]
    results = Results(
        http={name: [LoadResult(**run) for run in runs] for name, runs in res["http"].items()},
        idle=res["idle"],
        idle_breakdown=res["idle_breakdown"],
        pickup=res["pickup"],
        throughput=res["throughput"],
        curve={name: (idle, samples) for name, (idle, samples) in res["curve"].items()},
        drain=res.get("drain", {}),
        crash=res.get("crash", {}),
        versions=res.get("versions", {}),
        load=res.get("load", {}),
        skipped=res.get("skipped", []),
        made_at=res.get("made_at", ""),
    )
    return results, Sizes(**data["sizes"])
