"""One clock for what several machines compare: Redis's. A worker whose clock is behind still looks
alive to the API and still sees the jobs that are due."""

from __future__ import annotations

from typing import Any


async def redis_now(redis: Any) -> float:
    """Seconds since the epoch by the Redis server's clock (`TIME`)."""
    seconds, microseconds = await redis.time()
    return float(seconds) + float(microseconds) / 1_000_000
