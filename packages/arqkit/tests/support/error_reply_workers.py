"""The worker of tests/e2e/test_redis_error_replies.py:
`arq tests.support.error_reply_workers.WithSlowCount`."""

from __future__ import annotations

import asyncio

from arqkit import Registry, build_worker_settings, job, keys
from arqkit.job import AnyContext as Ctx
from tests.service.settings import get_settings

EXECUTIONS = keys.PREFIX + "test:slow-executions"  # hash: job id -> how many runs of it reached the end


@job(max_tries=3)
async def slow_count(ctx: Ctx, seconds: float) -> None:
    """Works `seconds`, then counts its run: a job that ran twice shows a 2."""
    await asyncio.sleep(seconds)
    await ctx.redis.hincrby(EXECUTIONS, ctx.job_id, 1)


REGISTRY = Registry([slow_count])
WithSlowCount = build_worker_settings(get_settings(), REGISTRY)
