"""Progress a long job reports, which `GET /jobs/{id}` shows while it runs."""

from __future__ import annotations

from arqkit import keys
from arqkit.job import AnyContext


async def report_progress(ctx: AnyContext, fraction: float) -> None:
    """Record how far the job is, from 0.0 to 1.0."""
    value = min(1.0, max(0.0, fraction))
    await ctx.redis.hset(keys.job_meta(ctx.job_id), "progress", f"{value:.4f}")
