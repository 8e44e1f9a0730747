"""docs/benchmarks-counts.md from one `bench.counts` run: the noise-free goals of issue 24, met or not."""

from __future__ import annotations

from typing import Any

HTTP_LABELS = {
    "template": "this template as shipped (rate limit, request id, access line, metrics, budget)",
    "template quiet": "the same at LOG_LEVEL=WARNING (no access line)",
    "template route": "the template's route and JobQueue on a minimal app",
    "saq": "saq minimal",
    "taskiq": "taskiq minimal",
    "arq": "arq minimal",
}
WORKER_LABELS = {
    "template": "this template as shipped",
    "taskiq results": "taskiq, with its Redis result backend",
    "taskiq": "taskiq, no result backend",
    "arq": "arq, tuned like the template",
    "saq": "saq",
}
MAX_COMMANDS = 10.0
MAX_IDLE = 5.0
FLAT = 1.25  # "does not grow with the number of workers": the most workers within 1.25x of one worker


def _m(value: float | None) -> str:
    return "n/a" if value is None else f"{value / 1e6:.2f} M"


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def _x(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "**not met**")


def goals(results: dict[str, Any]) -> list[str]:
    http, worker = results["http"], results["worker"]
    redis, idle = results["redis"], results["idle"]
    rows = ["| goal | what | target | measured | |", "|---|---|---|---|---|"]
    signup = _ratio(http.get("template"), http.get("saq"))
    rows.append(
        f"| 1 | `POST /signup` as shipped, instructions per request vs saq minimal | <= 1.00x | {_x(signup)} "
        f"| {_verdict(None if signup is None else signup <= 1.0)} |"
    )
    around = _ratio(http.get("template"), http.get("template route"))
    rows.append(
        "| 1 | what the shipped app adds around its own route (as shipped / route on a minimal app) "
        f"| <= 1.03x | {_x(around)} | {_verdict(None if around is None else around <= 1.03)} |"
    )
    results_peer = _ratio(worker.get("template"), worker.get("taskiq results"))
    rows.append(
        f"| 2 | one worker, instructions per no-op job vs taskiq with its result backend | <= 1.00x "
        f"| {_x(results_peer)} | {_verdict(None if results_peer is None else results_peer <= 1.0)} |"
    )
    bare = _ratio(worker.get("template"), worker.get("taskiq"))
    rows.append(
        f"| 2 | the same vs taskiq without a result backend | <= 1.20x | {_x(bare)} "
        f"| {_verdict(None if bare is None else bare <= 1.2)} |"
    )
    ours = redis.get("template", {})
    if ours:
        most = max(ours, key=int)
        commands = max(v["commands"] for v in ours.values())
        rows.append(
            f"| 3 | Redis commands per job, worst of {', '.join(sorted(ours, key=int))} workers "
            f"| <= {MAX_COMMANDS:g} | {commands:.1f} | {_verdict(commands <= MAX_COMMANDS)} |"
        )
        taskiq = redis.get("taskiq results", {}).get(most)
        cpu = _ratio(ours[most]["cpu_us"], taskiq["cpu_us"] if taskiq else None)
        rows.append(
            f"| 3 | Redis CPU per job, {most} workers, vs taskiq with its result backend | <= 1.00x "
            f"| {ours[most]['cpu_us']:.0f} µs, {_x(cpu)} | {_verdict(None if cpu is None else cpu <= 1.0)} |"
        )
        grows = _ratio(ours[most]["commands"], ours[min(ours, key=int)]["commands"])
        rows.append(
            f"| 3 | Redis commands per job, {most} workers / 1 | <= {FLAT:g}x | {_x(grows)} "
            f"| {_verdict(None if grows is None else grows <= FLAT)} |"
        )
    ours_idle = idle.get("template", {})
    if ours_idle:
        worst = max(v["commands_per_second"] for v in ours_idle.values())
        rows.append(
            "| 3 | idle commands/s per worker, empty queue, worst of "
            f"{', '.join(sorted(ours_idle, key=int))} workers | <= {MAX_IDLE:g} | {worst:.1f} "
            f"| {_verdict(worst <= MAX_IDLE)} |"
        )
    return rows


def http_table(results: dict[str, Any]) -> list[str]:
    http = results["http"]
    saq = http.get("saq")
    rows = ["| `POST /signup`, one request | instructions | vs saq minimal |", "|---|---|---|"]
    for name, value in http.items():
        rows.append(f"| {HTTP_LABELS.get(name, name)} | {_m(value)} | {_x(_ratio(value, saq))} |")
    return rows


def worker_table(results: dict[str, Any]) -> list[str]:
    worker = results["worker"]
    base = worker.get("taskiq results")
    rows = ["| one worker process, one no-op job | instructions | vs taskiq with results |", "|---|---|---|"]
    for name, value in worker.items():
        rows.append(f"| {WORKER_LABELS.get(name, name)} | {_m(value)} | {_x(_ratio(value, base))} |")
    return rows


def redis_table(results: dict[str, Any]) -> list[str]:
    redis, idle = results["redis"], results["idle"]
    counts = sorted({c for per in redis.values() for c in per}, key=int)
    head = f"({' / '.join(counts)} workers)"
    rows = [
        f"| library | Redis commands per job {head} | Redis CPU µs per job | idle commands/s per worker |",
        "|---|---|---|---|",
    ]
    for name, per in redis.items():
        commands = " / ".join(f"{per[c]['commands']:.1f}" if c in per else "-" for c in counts)
        cpu = " / ".join(f"{per[c]['cpu_us']:.0f}" if c in per else "-" for c in counts)
        quiet = idle.get(name, {})
        idles = " / ".join(f"{quiet[c]['commands_per_second']:.1f}" if c in quiet else "-" for c in counts)
        rows.append(f"| {WORKER_LABELS.get(name, name)} | {commands} | {cpu} | {idles} |")
    return rows


def breakdown(results: dict[str, Any]) -> list[str]:
    lines = []
    for name, per in results["redis"].items():
        most = max(per, key=int)
        top = ", ".join(f"{k} {v:g}" for k, v in list(per[most]["by_command"].items())[:8])
        quiet = results["idle"].get(name, {}).get(most, {}).get("by_command", {})
        idle_top = ", ".join(f"{k} {v:g}" for k, v in list(quiet.items())[:8])
        label = WORKER_LABELS.get(name, name)
        lines.append(
            f"- {label}, {most} workers, per job: {top}; idle, per worker and second: {idle_top or 'none'}"
        )
    return lines


def render(results: dict[str, Any]) -> str:
    sizes = results["sizes"]
    versions = ", ".join(f"{k} {v}" for k, v in results.get("versions", {}).items())
    parts = [
        "# Noise-free goals: instructions and Redis work per request and per job (issue 24)",
        "",
        f"Made with `{results['command']}` on {results['made_at']} ({results.get('minutes', '?')} min; "
        f"load {results.get('load_start', '?')} at the start, {results.get('load_end', '?')} at the end). "
        f"Peers: {versions or 'none'}. Instructions are callgrind's count of the measured part only: "
        f"two runs of N and N/3 (requests: N = {sizes['requests']}, 32 in-process callers; "
        f"jobs: N = {sizes['jobs']} "
        f"no-op jobs queued with the library's own client, drained by one worker process, concurrency 50), "
        f"the difference divided by the difference. Timer work (metrics flush, dashboard sampler) is off "
        f"in those runs: it is paid per second, not per request. Redis: a redis-server of its own per "
        f"measurement; {sizes['redis_jobs']} queued no-op jobs drained by N worker processes (start-up "
        f"included, the enqueue not), `INFO commandstats` and `INFO cpu` deltas; idle: the same workers on "
        f"an empty queue for {sizes['idle_seconds']:g} s after 3 s of settling.",
        "",
        *goals(results),
        "",
        "Why each goal not met is not met, and what each guarantee costs in these units: "
        "[request-path.md](request-path.md), round 4.",
        "",
        *http_table(results),
        "",
        *worker_table(results),
        "",
        *redis_table(results),
        "",
        "Redis commands by name (the most workers measured):",
        "",
        *breakdown(results),
        "",
    ]
    return "\n".join(parts)
