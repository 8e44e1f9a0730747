"""An operator's hand on a whole queue: pause it, resume it, purge what waits in it.

arq has neither pause nor purge. A pause is a flag in Redis (`keys.paused`), so it holds across worker
restarts and for every worker of the queue; the workers' queue read (`lua/ready.lua`) finds nothing
while it is set, so running jobs finish and no new one starts, while enqueues go on as usual. A resume
clears the flag and pushes wake-up tokens, so idle workers start the waiting jobs at once.
"""

from __future__ import annotations

from redis.asyncio import Redis

from arqkit import keys, lua
from arqkit.internals.enqueue import WAKE_TOKENS_MAX

PURGE_BATCH = 500  # queue entries per purge script call: Redis never blocks long on one call


async def pause(redis: Redis, queue_name: str) -> None:
    await redis.set(keys.paused(queue_name), "1")


async def resume(redis: Redis, queue_name: str) -> None:
    """Clear the flag and wake up to `WAKE_TOKENS_MAX` idle workers (the list stays bounded)."""
    wake = keys.wake(queue_name)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(keys.paused(queue_name))
        pipe.rpush(wake, *["1"] * WAKE_TOKENS_MAX)
        pipe.ltrim(wake, 0, WAKE_TOKENS_MAX - 1)
        await pipe.execute()


async def purge(redis: Redis, queue_name: str) -> int:
    """Drop every job waiting in the queue, due now or deferred; running jobs are left to finish.
    Returns how many were dropped. Each batch is atomic: a job a worker claims meanwhile is kept."""
    script = redis.register_script(lua.source("purge"))
    prefixes = [keys.job(""), keys.retry(""), keys.in_progress(""), keys.job_meta("")]
    removed, offset = 0, 0
    while offset >= 0:
        dropped, offset = await script(keys=[queue_name], args=[offset, PURGE_BATCH, *prefixes])
        removed += int(dropped)
        offset = int(offset)
    return removed
