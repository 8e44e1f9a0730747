"""docs/benchmarks.md and its plot, from one run's raw results: medians, spreads, ratios, the goals."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench import results as r
from bench.load import LoadResult
from bench.machine import describe_machine
from bench.results import Results, Sizes

PLOT_NAME = "benchmarks-latency.png"


@dataclass(frozen=True)
class Report:
    results: Results
    sizes: Sizes
    command: str
    load_generator: str
    smoke: bool


def spread(values: Sequence[float], digits: int = 0) -> str:
    """`median [min-max]`, the way every figure here is given."""
    if not values:
        return "n/a"
    fmt = f"{{:,.{digits}f}}"
    median = fmt.format(statistics.median(values))
    return median if len(values) == 1 else f"{median} [{fmt.format(min(values))}-{fmt.format(max(values))}]"


def ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Round by round: each ratio pairs two variants measured in the same round."""
    return [a / b for a, b in zip(numerators, denominators, strict=False) if b]


def percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def _rps(res: Results, name: str) -> list[float]:
    return [x.requests_per_second for x in res.http.get(name, [])]


def _http_field(res: Results, name: str, attribute: str) -> list[float]:
    runs: list[LoadResult] = res.http.get(name, [])
    return [float(getattr(x, attribute)) for x in runs]


def _pooled(res: Results, name: str) -> list[float]:
    return [sample for run in res.pickup.get(name, []) for sample in run]


def _per_round(res: Results, name: str, q: float) -> list[float]:
    return [percentile(run, q) for run in res.pickup.get(name, [])]


def _met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def goals(res: Results) -> tuple[list[str], set[str]]:
    """The goals table, and the keys of the goals not met (for the notes that explain them)."""
    signup, background, plain = _rps(res, r.SIGNUP), _rps(res, r.BACKGROUND), _rps(res, r.ENQUEUE_JOB)
    vs_background, vs_plain = ratios(signup, background), ratios(signup, plain)
    p99_signup, p99_background = (
        _http_field(res, r.SIGNUP, "p99_ms"),
        _http_field(res, r.BACKGROUND, "p99_ms"),
    )
    pickup = _pooled(res, r.PICKUP_TEMPLATE)
    idle = res.idle.get(r.PICKUP_TEMPLATE, [])
    tput_tuned = ratios(res.throughput.get(r.TEMPLATE, []), res.throughput.get(r.RAW_TUNED, []))
    tput_defaults = ratios(res.throughput.get(r.TEMPLATE, []), res.throughput.get(r.RAW_DEFAULTS, []))
    med = statistics.median
    p99_ratio = ratios(p99_signup, p99_background)
    rows = [
        ("1", "/signup req/s vs BackgroundTasks", ">= 1.2x", spread(vs_background, 2) + "x",
         bool(vs_background) and med(vs_background) >= 1.2),
        ("1", "/signup req/s vs arq enqueue_job", ">= 1.5x", spread(vs_plain, 2) + "x",
         bool(vs_plain) and med(vs_plain) >= 1.5),
        ("1", "/signup p99 vs BackgroundTasks p99", "<= 1.0x", spread(p99_ratio, 2) + "x",
         bool(p99_signup) and med(p99_signup) <= med(p99_background)),
        ("2", "pickup p50 (idle worker)", "<= 5 ms", f"{percentile(pickup, 50):.1f} ms",
         bool(pickup) and percentile(pickup, 50) <= 5),
        ("2", "pickup p99 (idle worker)", "<= 20 ms", f"{percentile(pickup, 99):.1f} ms",
         bool(pickup) and percentile(pickup, 99) <= 20),
        ("2", "idle worker's Redis commands/s", "<= 100", spread(idle, 1), bool(idle) and med(idle) <= 100),
        ("3", "no-op jobs/s vs arq tuned the same", ">= 1.0x", spread(tput_tuned, 2) + "x",
         bool(tput_tuned) and med(tput_tuned) >= 1.0),
        ("3", "no-op jobs/s vs arq defaults", ">= 4x", spread(tput_defaults, 2) + "x",
         bool(tput_defaults) and med(tput_defaults) >= 4),
    ]  # fmt: skip
    lines = ["| goal | what | target | measured: median [min-max] over rounds | |", "|---|---|---|---|---|"]
    lines += [f"| {g} | {what} | {target} | {value} | {_met(ok)} |" for g, what, target, value, ok in rows]
    return lines, {what for _, what, _, _, ok in rows if not ok}


def gap_notes(res: Results, unmet: set[str]) -> list[str]:
    """A paragraph for each goal not met: its cause, from this run's own figures, and what would close it."""
    from bench.report_text import GAP_BACKGROUND, GAP_THROUGHPUT

    notes = []
    if "/signup req/s vs BackgroundTasks" in unmet:
        bare = spread(ratios(_rps(res, r.BARE), _rps(res, r.BACKGROUND)), 2) + "x"
        notes.append(GAP_BACKGROUND.format(bare_ratio=bare))
    if "no-op jobs/s vs arq tuned the same" in unmet:
        template = res.throughput.get(r.TEMPLATE, [])

        def priced(without: str) -> str:
            return spread(ratios(template, res.throughput.get(without, [])), 2) + "x"

        notes.append(
            GAP_THROUGHPUT.format(
                logs=priced(r.NO_LOGS),
                hooks=priced(r.NO_JOB_HOOKS),
                wrapper=priced(r.NO_WRAPPER),
                defaults=spread(ratios(template, res.throughput.get(r.RAW_DEFAULTS, [])), 2) + "x",
            )
        )
    explained = {
        "/signup req/s vs BackgroundTasks",
        "no-op jobs/s vs arq tuned the same",
        "no-op jobs/s vs arq defaults",
    }
    others = unmet - explained
    if others:
        notes.append("**Also not met in this run:** " + "; ".join(sorted(others)) + ". See the tables below.")
    return notes


def http_table(res: Results) -> list[str]:
    background, plain = _rps(res, r.BACKGROUND), _rps(res, r.ENQUEUE_JOB)
    lines = [
        "| endpoint | req/s | vs BackgroundTasks | vs enqueue_job | p50 ms | p99 ms | max ms | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in res.http:
        rps = _rps(res, name)
        vs_background, vs_plain = spread(ratios(rps, background), 2), spread(ratios(rps, plain), 2)
        p50, p99, worst = (spread(_http_field(res, name, f), 1) for f in ("p50_ms", "p99_ms", "max_ms"))
        errors = f"{sum(_http_field(res, name, 'errors')):.0f}"
        cells = [name, spread(rps), f"{vs_background}x", f"{vs_plain}x", p50, p99, worst, errors]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def pickup_table(res: Results) -> list[str]:
    lines = [
        "| worker | pickup p50 ms | p90 ms | p99 ms | max ms | p50 per round | p99 per round | idle cmd/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in res.pickup:
        pooled = _pooled(res, name)
        p50, p90, p99 = (f"{percentile(pooled, q):.1f}" for q in (50, 90, 99))
        rounds = f"{spread(_per_round(res, name, 50), 1)} | {spread(_per_round(res, name, 99), 1)}"
        idle = spread(res.idle.get(name, []), 1)
        lines.append(f"| {name} | {p50} | {p90} | {p99} | {max(pooled):.1f} | {rounds} | {idle} |")
    return lines


def idle_breakdown(res: Results) -> list[str]:
    """Which commands an idle template worker sends, per second (last round)."""
    counts = res.idle_breakdown.get(r.PICKUP_TEMPLATE, {})
    listed = ", ".join(f"{name} {rate:.1f}" for name, rate in sorted(counts.items(), key=lambda kv: -kv[1]))
    return [f"Idle template worker, commands/s by command (last round): {listed or 'none'}."]


def curve_table(res: Results) -> list[str]:
    lines = ["| worker | idle cmd/s | pickup p50 ms | p99 ms |", "|---|---|---|---|"]
    for name, (idle, samples) in res.curve.items():
        lines.append(
            f"| {name} | {idle:.1f} | {percentile(samples, 50):.1f} | {percentile(samples, 99):.1f} |"
        )
    return lines


def throughput_table(res: Results) -> list[str]:
    tuned, defaults = res.throughput.get(r.RAW_TUNED, []), res.throughput.get(r.RAW_DEFAULTS, [])
    lines = ["| worker | no-op jobs/s | vs arq tuned | vs arq defaults |", "|---|---|---|---|"]
    for name, rates in res.throughput.items():
        vs_tuned, vs_defaults = spread(ratios(rates, tuned), 2), spread(ratios(rates, defaults), 2)
        lines.append(f"| {name} | {spread(rates)} | {vs_tuned}x | {vs_defaults}x |")
    return lines


def cost_table(res: Results) -> list[str]:
    """What each piece costs: throughput with it, divided by throughput without it (1.00 = free)."""
    tput = res.throughput
    rows = [
        ("API: rate limiter (one Redis round trip)", _rps(res, r.SIGNUP_RATE_LIMITED), _rps(res, r.SIGNUP)),
        ("API: request-id log line per request", _rps(res, r.SIGNUP), _rps(res, r.SIGNUP_NO_REQUEST_LOG)),
        ("API: enqueue to Redis at all (vs BackgroundTasks)", _rps(res, r.SIGNUP), _rps(res, r.BACKGROUND)),
        ("worker: INFO logs (1 line per job)", tput.get(r.TEMPLATE, []), tput.get(r.NO_LOGS, [])),
        (
            "worker: batch claim (vs arq's claim, job by job)",
            tput.get(r.TEMPLATE, []),
            tput.get(r.ARQ_CLAIM, []),
        ),
        (
            "worker: per-job hooks (claim, meta, metrics)",
            tput.get(r.TEMPLATE, []),
            tput.get(r.NO_JOB_HOOKS, []),
        ),
        (
            "worker: @job wrapper (log context, retries, metrics)",
            tput.get(r.TEMPLATE, []),
            tput.get(r.NO_WRAPPER, []),
        ),
        (
            "worker: wake-up pool (vs polling, same poll_delay)",
            tput.get(r.TEMPLATE, []),
            tput.get(r.POLLING, []),
        ),
    ]
    lines = ["| piece | throughput with it / without it | what it costs |", "|---|---|---|"]
    for name, with_it, without in rows:
        rs = ratios(with_it, without)
        cost = "n/a" if not rs else _cost(statistics.median(rs))
        lines.append(f"| {name} | {spread(rs, 2)}x | {cost} |")
    return lines


def _cost(ratio: float) -> str:
    share = abs(1 - ratio) * 100
    return f"{share:.0f}% of throughput" if ratio < 1 else f"none: {share:.0f}% faster with it"


def write_plot(res: Results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for name in res.pickup:
        samples = sorted(_pooled(res, name))
        left.plot(
            samples, [(i + 1) / len(samples) for i in range(len(samples))], label=name, drawstyle="steps-post"
        )
    for name, (_, samples) in res.curve.items():
        ordered = sorted(samples)
        right.plot(
            ordered, [(i + 1) / len(ordered) for i in range(len(ordered))], label=name, drawstyle="steps-post"
        )
    for axes, title in ((left, "pickup latency, idle worker"), (right, "poll_delay / idle wait trade-off")):
        axes.set_xscale("log")
        axes.set_xlabel("enqueue -> job starts (ms, log scale)")
        axes.set_ylabel("fraction of jobs")
        axes.set_title(title)
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_report(report: Report, out: Path) -> Path:
    from bench.report_text import render

    out.mkdir(parents=True, exist_ok=True)
    write_plot(report.results, out / PLOT_NAME)
    from bench.report_peers import PEERS_PLOT_NAME, peers_section, write_peers_plot

    write_peers_plot(report.results, out / PEERS_PLOT_NAME)
    path = out / "benchmarks.md"
    goal_lines, unmet = goals(report.results)
    sections = {
        "goals": goal_lines,
        "http": http_table(report.results),
        "pickup": pickup_table(report.results),
        "curve": curve_table(report.results),
        "idle": idle_breakdown(report.results),
        "throughput": throughput_table(report.results),
        "costs": cost_table(report.results),
        "machine": describe_machine(report.load_generator),
    }
    when = report.results.made_at or datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    peers = peers_section(report.results, report.sizes)
    text = render(report, sections, when, PLOT_NAME, gap_notes(report.results, unmet), peers)
    path.write_text(with_counts(text, out / COUNTS_NAME))
    return path


COUNTS_NAME = "benchmarks-counts.md"  # written by `python -m bench.counts`


def with_counts(text: str, counts: Path) -> str:
    """The report led by the noise-free goals of the last `bench.counts` run (instructions, Redis
    commands), when there is one: the figures the machine's load cannot move come first."""
    if not counts.exists():
        return text
    title, _, rest = counts.read_text().partition("\n")
    heading = "## " + title.removeprefix("# ")
    section = heading + "\n" + rest.rstrip() + "\n\n"
    if heading in text:  # an earlier run's section: replaced
        before, _, after = text.partition(heading)
        text = before.rstrip("\n") + "\n" + after[after.index("\n## ") :] if "\n## " in after else before
    head, _, tail = text.partition("\n## ")
    return f"{head}\n{section}## {tail}" if tail else text + "\n" + section
