"""Traffic control inside jobs, shared by every worker through Redis.

- `await throttle(ctx, "email", rate)` before each call to a downstream that allows `rate` across all
  workers together: the job waits for its reserved slot, or, when that is further away than
  `downstream_max_wait_seconds`, is deferred until about then.
- `async with concurrency_slot(ctx, "generate_report", 2):` around work of which at most 2 may run in the
  whole deployment: a lease the run renews (`leases.py`); a killed worker's lease runs out by itself.

A job that has to wait in the queue is `defer`red: `Deferred`, an arq `Retry(defer=...)`, with its try given
back, so waiting for capacity never counts towards `max_tries` and never fails a job.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from functools import lru_cache
from typing import NoReturn

import structlog

from arqkit import keys, leases
from arqkit.internals.claims import refund_try
from arqkit.job import AnyContext, Deferred
from arqkit.settings import QueueSettings
from arqkit.sliding_window import Rate, SlidingWindowLimiter

log = structlog.get_logger("jobs.capacity")


@lru_cache
def rate_of(text: str) -> Rate:
    """A rate setting, parsed once."""
    return Rate.parse(text)


async def defer(ctx: AnyContext, seconds: float, reason: str) -> NoReturn:
    """Put the job back in its queue for `seconds` without using up a try."""
    await refund_try(ctx.redis, ctx.job_id)
    log.info("job deferred", reason=reason, defer_s=round(seconds, 3))
    raise Deferred(defer=seconds)


async def throttle(ctx: AnyContext, name: str, rate: Rate) -> None:
    """Wait for a slot of the downstream `name`'s `rate`, or defer the job when none frees soon."""
    settings: QueueSettings = ctx.settings
    limiter = SlidingWindowLimiter(ctx.redis)
    decision = await limiter.acquire(
        keys.rate_window("downstream", name), rate, settings.downstream_max_wait_seconds
    )
    if not decision.admitted:
        jitter = random.uniform(0, rate.period_seconds)  # spread out the jobs that come back together
        await defer(ctx, decision.wait_seconds + jitter, f"{name} rate limit {rate}")
    if decision.wait_seconds > 0:
        await asyncio.sleep(decision.wait_seconds)


@contextlib.asynccontextmanager
async def concurrency_slot(ctx: AnyContext, name: str, limit: int) -> AsyncIterator[None]:
    """Hold one of `limit` slots of `name` across all workers while the block runs, or defer the job."""
    lease = await leases.acquire(ctx.redis, keys.concurrency_leases(name), limit, ctx.job_id, ctx.settings)
    if lease is None:
        await defer(ctx, leases.recheck_delay(ctx.settings), f"{name} concurrency limit {limit}")
    try:
        yield
    finally:
        await lease.release()
