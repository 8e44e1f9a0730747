"""A long job that reports progress."""

from __future__ import annotations

import asyncio

from arqkit import PerKey, concurrency_slot, job, report_progress

from jobs.context import Ctx


@job(max_tries=3, timeout_seconds=600, concurrency=PerKey("user_id", limit=1))
async def generate_report(ctx: Ctx, user_id: int, month: str) -> dict[str, str | int]:
    """Build a monthly report step by step. Idempotent: it writes to a path derived from its inputs.
    One user's reports run one at a time (`PerKey`): a user who asks for twelve months at once does not
    take every report slot from the others; the rest wait in the queue without spending a try."""
    settings = ctx.settings
    async with concurrency_slot(ctx, "generate_report", settings.report_max_concurrency):
        for step in range(settings.report_steps):
            await asyncio.sleep(settings.report_step_seconds)  # stands for a chunk of real work
            await report_progress(ctx, (step + 1) / settings.report_steps)
    return {"url": f"/reports/{user_id}/{month}.csv", "rows": settings.report_steps * 100}
