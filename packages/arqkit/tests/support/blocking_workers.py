"""Worker variants for jobs that block: `async def` jobs that block their event loop, and plain `def` jobs
in threads and processes. Run as real processes: `arq tests.support.blocking_workers.<Name>`."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from typing import Any

import redis

from arqkit import JobContext, Registry, SyncJobContext, TransientError, build_worker_settings, job, keys
from tests.service.settings import get_settings

RUNS = keys.PREFIX + "test:runs"  # hash: job id -> how many times it started
GO = keys.PREFIX + "test:go"  # a def job waits for this key before it finishes
SAW_CANCELLED = keys.PREFIX + "test:saw-cancelled"  # a timed-out def job's thread saw `ctx.cancelled`

Ctx = JobContext[Any, Any]
SyncCtx = SyncJobContext[Any, Any]


def _redis(ctx: SyncCtx) -> redis.Redis:
    return redis.Redis.from_url(ctx.settings.redis_url)


def _block(seconds: float, how: str) -> None:
    if how == "sleep":
        time.sleep(seconds)
        return
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:  # pure-Python CPU work, as a resize or a parse would be
        sum(i * i for i in range(1000))


@job(max_tries=3)
async def blocks_its_loop(ctx: Ctx, seconds: float, how: str) -> str:
    """An `async def` that blocks its event loop: `time.sleep`, or CPU work."""
    await ctx.redis.hincrby(RUNS, ctx.job_id, 1)
    _block(seconds, how)
    return "done"


@job(max_tries=2, timeout_seconds=1)
async def blocks_past_its_timeout(ctx: Ctx, seconds: float) -> int:
    """Blocks its loop far past its timeout on its first try; later tries return at once."""
    await ctx.redis.hincrby(RUNS, ctx.job_id, 1)
    if ctx.job_try == 1:
        time.sleep(seconds)
    return ctx.job_try


@job(max_tries=3)
def adds_in_a_thread(ctx: SyncCtx, a: int, b: int, transient_failures: int) -> dict[str, Any]:
    """A plain def: fails its first tries with a transient error, then answers where it ran."""
    _redis(ctx).hincrby(RUNS, ctx.job_id, 1)
    if ctx.job_try <= transient_failures:
        raise TransientError(f"try {ctx.job_try} fails")
    return {"sum": a + b, "thread": threading.current_thread().name, "pid": os.getpid()}


@job(max_tries=1)
def waits_for_go(ctx: SyncCtx) -> str:
    """Reports half its progress, then waits (at most 20 s) for the test to set GO."""
    ctx.report_progress(0.5)
    client = _redis(ctx)
    deadline = time.monotonic() + 20
    while not client.exists(GO) and time.monotonic() < deadline:
        time.sleep(0.05)
    ctx.report_progress(1.0)
    return "went"


@job(max_tries=1, timeout_seconds=1)
def outlives_its_timeout_in_a_thread(ctx: SyncCtx) -> None:
    """Checks `ctx.cancelled` between steps, as a long def job should, and records when it saw it."""
    deadline = time.monotonic() + 20
    while not ctx.cancelled.is_set() and time.monotonic() < deadline:
        time.sleep(0.05)
    _redis(ctx).set(SAW_CANCELLED, str(ctx.cancelled.is_set()))


@job(max_tries=2, executor="process")
def hashes_in_a_process(ctx: SyncJobContext[Any, None], data: str, rounds: int) -> dict[str, Any]:
    """CPU work in the worker's process pool: fails its first try, reports progress, says its pid."""
    _redis(ctx).hincrby(RUNS, ctx.job_id, 1)
    if ctx.job_try == 1:
        raise TransientError("the first try fails")
    digest = data.encode()
    for step in range(rounds):
        digest = hashlib.sha256(digest).digest()
        ctx.report_progress((step + 1) / rounds)
    return {"digest": digest.hex(), "pid": os.getpid(), "resources": ctx.resources}


BLOCKING_JOBS = Registry([blocks_its_loop, blocks_past_its_timeout])
SYNC_JOBS = Registry([adds_in_a_thread, waits_for_go, outlives_its_timeout_in_a_thread, hashes_in_a_process])
BlockingJobs = build_worker_settings(get_settings(), BLOCKING_JOBS)
SyncJobs = build_worker_settings(get_settings(), SYNC_JOBS)
