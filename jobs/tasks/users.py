"""Syncing a user from another system: one sync per user at a time, however often it is asked for."""

from __future__ import annotations

import asyncio
import time

from arqkit import Unique, job

from jobs import keys
from jobs.context import Ctx


@job(max_tries=5, unique=Unique("user_id"))
async def sync_user(ctx: Ctx, user_id: int) -> dict[str, int | float]:
    """While a sync of this user is queued or running, asking again answers with that job (`unique=`).
    Idempotent: it overwrites the user's synced record, so a second run (at least once) does no harm."""
    await asyncio.sleep(ctx.settings.user_sync_seconds)  # stands for the call to the other system
    synced_at = time.time()
    await ctx.redis.set(keys.user_synced(user_id), synced_at)
    return {"user_id": user_id, "synced_at": synced_at}
