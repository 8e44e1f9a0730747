"""The words around the numbers in docs/benchmarks.md (generated: edit this, not the Markdown)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.report import Report

SMOKE_NOTE = "\n> **Smoke run**: tiny sizes that only check the harness; these figures measure nothing.\n"

HOW = """\
## How it is measured

- **Enqueue endpoint**: one `uvicorn bench.app:app` process (uvloop, httptools, request-id logging at INFO
  as JSON to /dev/null, metrics middleware on) per configuration, pinned to core 0; the load generator
  ({load}, 2 threads, {connections} connections) pinned to core 1 with Redis (its own `redis-server`
  on loopback). `bench/app.py` adds the comparison endpoints to the template's own app: each takes
  the same `SignupIn` body and the same rate-limit dependency as `POST /signup` and differs only in
  what it does with it: arq's `enqueue_job` (3 round trips and a WATCH), a FastAPI `BackgroundTasks`
  sync task, or nothing (`/bench/bare`, no body). Redis is flushed before each load run.
  "Rate limit on" is the other engineer's limiter (`arqkit/web/rate_limit.py`, one Redis round trip per
  request) with `RATE_LIMIT_SIGNUP=1000000/second`, so it admits everything and only its cost shows.
- **Pickup latency**: one worker process, idle; the harness enqueues one no-op job, waits for it to
  finish, sleeps a random 20-520 ms (longer than arq's default 0.5 s `poll_delay`, so a polling worker
  is met at every phase of its timer), and again. Latency = the job function's first line
  (`time.time()`) minus the time taken just before the enqueue call, same machine clock. Before the
  samples, the Redis commands the idle worker causes are counted from `INFO commandstats` over {idle:g}
  s (commands run inside Lua scripts included; our own INFO calls subtracted). Template workers are
  built by `jobs.worker.build_worker_settings`, exactly what `arq jobs.WorkerSettings` runs, plus one
  no-op job (`bench/workers.py`).
- **Worker throughput**: {jobs} no-op jobs are queued for later while the worker idles, then made due all
  at once (one Lua call, plus a wake-up token as an enqueue pushes); timed until the queue is empty.
  "arq tuned like the template" has the template's `max_jobs`, `poll_delay` and abort setting and no
  hooks; "arq defaults" is arq as shipped (with a JSON serializer instead of pickle).
- **Where a request's time goes**: a profile of `POST /signup` (py-spy, before and after the
  one-round-trip enqueue) and what each guarantee costs per request are in
  [request-path.md](request-path.md), written by hand; this page is generated.
"""

MECHANISM = """\
## What makes it fast, and the defaults that do it

- **One round trip per enqueue** (`arqkit/internals/enqueue.py`): a Lua script does arq's EXISTS check
  on the job and result keys and writes arq's job key (same payload, same TTL) and queue entry (same
  score) atomically, then pushes a wake-up token. arqkit's `tests/internals/test_enqueue.py` pins it against
  arq itself: a stock arq worker runs what it writes, arq's `Job` reads it, and each dedup case (fresh,
  queued, deferred, running, in-progress key only, result kept, after result expiry, after `_expires`)
  gives `enqueue_job`'s answer. Enqueues made in the same event-loop turn leave as one pipeline
  (auto-pipelining), which is where most of the gain under load comes from.
- **An idle worker is woken, not polled** (`arqkit/internals/wakeup.py`): arq's loop sleeps
  `poll_delay` between queue reads and has no hook to wake it. The worker is given our pool
  (`Worker(redis_pool=...)`, a public argument) whose queue read, when nothing is due, blocks in `BLPOP`
  on the queue's wake-up list until a token, the next deferred job's time, or `WORKER_IDLE_WAIT_SECONDS`
  (1 s). One Lua call returns only due jobs that no worker is running yet, so a busy worker does not
  re-check running jobs on every poll, as arq does.
- **Jobs are claimed in batches** (`arqkit/internals/batch_claim.py`, `lua/claim.lua`): that same
  Lua call claims up to as many due jobs as the worker has free slots, counts their tries, takes their
  abort markers, reads their payloads and writes their `started_at`, atomically. arq's loop runs as
  before, and the worker's pool answers arq's per-job claim (WATCH, EXISTS, ZSCORE, MULTI/PSETEX/EXEC,
  one job after another in arq's main loop) and run_job reads from it: six round trips per job become
  one per batch. Claims are short from the start (`CRASH_RECOVERY_SECONDS` less the idle wait) and
  renewed by the heartbeat, so crash recovery stays within 15 s.
- **Transactions of one loop turn leave in one write** (`arqkit/internals/transactions.py`): arq
  finishes each job with its own MULTI/EXEC; those made in the same event-loop turn go out together,
  each still atomic with its own answer.
- **One log line per job at INFO**: the `@job` wrapper's outcome line; arq's start and success lines
  say the same and are kept for `LOG_LEVEL=DEBUG`.
- Defaults: `WORKER_POLL_DELAY_SECONDS=0.01` (it now paces only a busy worker: how soon it reads again
  after starting jobs; an idle one blocks instead), `WORKER_IDLE_WAIT_SECONDS=1.0` (the longest an
  idle worker goes without arq's housekeeping: aborts of running jobs, health key, cron; each wait
  costs about 10 commands), `WORKER_MAX_JOBS=50` (unchanged: no-op and I/O-bound jobs overlap), and
  the worker's pool has no socket timeout (its idle read blocks by design) with the same reconnect
  retries as before. The API's pool is unchanged (1 s socket timeout keeps "Redis away" a fast 503).
- Limits, stated: jobs enqueued without a token (arq's own `enqueue_job` from other code, a retry
  deferred by another worker) are still found, within `WORKER_IDLE_WAIT_SECONDS` or at their due
  time; an abort of a running job on an otherwise idle worker takes up to that long. The wake-up
  relies on arq calling `pool.zrangebyscore(queue, min=-inf, start=, num=, max=now)` in its poll
  (arq 0.28, pinned; arqkit's `tests/internals/test_wakeup.py` fails if that stops working).
"""

GAP_BACKGROUND = """\
**Why `/signup` stops short of 1.2x the BackgroundTasks endpoint.** Both run the same middleware,
validation, rate-limit dependency and response model; what differs is one auto-pipelined EVALSHA
against a thread-pool hand-off after the response, and the EVALSHA is the cheaper of the two. But the
common part is most of a request: even the bare endpoint (no body, no validation, no Redis) does only
{bare_ratio} the BackgroundTasks endpoint's req/s. A 1.2x needs the common work to shrink: the
request-id log line and FastAPI's dependency solving and response-model validation are most of it
("What each piece costs" prices the log line).
That raises every endpoint alike and the ratio with it. The p99 goal, where the thread pool's queueing
shows, is where the enqueue wins clearly. The rate limiter (another engineer's, one Redis round trip
per request) costs more than the enqueue itself; sending its round trip through the same
auto-pipelining is the next step (not measured here).
"""


GAP_THROUGHPUT = """\
**Why the template's worker is not at 1.0x a hook-less arq worker in this run.** A no-op job is
nothing but per-job overhead, and the template adds some on purpose. Priced in this run (throughput
with the piece on / off, same rounds): the per-job hooks {hooks} (`after_job_end`'s metrics and
recent-jobs bookkeeping; the claim and `started_at` are already in the batch claim), the `@job` wrapper
{wrapper} (log context, metrics, tracing hook, retry policy, its one "job complete" line), INFO logging
{logs}. The batch claim and the batched transactions are what put it ahead of arq's own loop (see
"arq's own claim (job by job)" and "arq tuned ... on the template's worker pool"); no-op throughput on
this shared machine moves more between rounds than the margin (see the spreads). Against arq's defaults
it is {defaults} in this run.
"""


def render(
    report: Report, sections: dict[str, list[str]], when: str, plot: str, notes: list[str], peers: str
) -> str:
    sizes = report.sizes
    table = {name: "\n".join(lines) for name, lines in sections.items()}
    how = HOW.format(
        load=report.load_generator,
        connections=sizes.connections,
        idle=sizes.idle_seconds,
        jobs=sizes.throughput_jobs,
    )
    gaps = "\n".join(notes)
    from bench.report_peers import busy_note

    busy = busy_note(report.results)
    return f"""# Benchmarks: enqueue cost, pickup latency, worker throughput
{SMOKE_NOTE if report.smoke else ""}
Made with `{report.command}` on {when}. {sizes.rounds} round(s); in each round every variant of a comparison
runs once, in an order that rotates from round to round. Figures are `median [min-max]` over rounds; a
ratio is computed within each round (both variants measured minutes apart at most) and then summarised
the same way. The machine (2 cores) is shared with other engineers' test suites and noisy: read the
ratios, not the absolute numbers. {busy}

{peers}
## Goals of the template's own variants

{table["goals"]}

{gaps}

## 1. Enqueue endpoint

{table["http"]}

## 2. Pickup latency (idle worker) and what an idle worker costs Redis

{table["pickup"]}

{table["idle"]}

The trade-off, one round each: a polling worker pays for lower latency with more idle commands; a
woken one does not.

{table["curve"]}

![pickup latency distributions]({plot})

## 3. Worker throughput, no-op jobs

{table["throughput"]}

## 4. What each piece costs

Throughput with the piece on divided by throughput with it off, measured in the same rounds (1.00x:
free; below 1: what you pay).

{table["costs"]}

{MECHANISM}
{how}
## Machine and versions

{table["machine"]}
"""
