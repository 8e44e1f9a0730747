"""Counting semaphores across workers: at most `limit` holders of a key at once, each holding a lease it
renews while it runs. A killed worker renews nothing, so its lease runs out by itself: no slot leaks.

A holder is one run of a job (its id and a random token), not the job: a run whose lease ran out (a
partition) and whose job was claimed again never frees, renews or shares the newer run's slot.
`capacity.concurrency_slot` (a slot named in the job's code) and `per_key` (a cap per argument value,
declared on `@job`) both hold theirs here.
"""

from __future__ import annotations

import asyncio
import random
import secrets

import structlog
from redis.asyncio import Redis

from arqkit import lua
from arqkit.settings import QueueSettings

log = structlog.get_logger("jobs.capacity")


class Lease:
    """One run's slot, renewed every third of its length until `release`."""

    def __init__(self, redis: Redis, key: str, holder: str, lease_seconds: float) -> None:
        self.key = key
        self._redis = redis
        self._holder = holder
        self._renewal = asyncio.create_task(_renew_forever(redis, key, holder, lease_seconds))

    async def release(self) -> None:
        self._renewal.cancel()
        await self._free(self._redis, self._holder)

    async def _free(self, redis: Redis, holder: str) -> None:
        await redis.zrem(self.key, holder)


async def acquire(redis: Redis, key: str, limit: int, job_id: str, settings: QueueSettings) -> Lease | None:
    """One of `limit` slots of `key` for this run of `job_id`, or None when all are held."""
    holder = holder_of(job_id)
    lease_seconds = settings.concurrency_lease_seconds
    acquired = await redis.register_script(lua.source("lease_acquire"))(
        keys=[key], args=[limit, holder, int(lease_seconds * 1000)]
    )
    return Lease(redis, key, holder, lease_seconds) if acquired else None


def holder_of(job_id: str) -> str:
    """A holder's name: this run of the job (its id and a random token)."""
    return f"{job_id}:{secrets.token_hex(8)}"


def recheck_delay(settings: QueueSettings) -> float:
    """How long a job that found no free slot waits in the queue: about `concurrency_recheck_seconds`,
    spread out so that the jobs deferred together do not all come back together."""
    recheck = settings.concurrency_recheck_seconds
    return random.uniform(recheck / 2, recheck * 1.5)


async def _renew_forever(redis: Redis, key: str, holder: str, lease_seconds: float) -> None:
    renew = redis.register_script(lua.source("lease_renew"))
    while True:
        await asyncio.sleep(lease_seconds / 3)
        try:
            if not await renew(keys=[key], args=[holder, int(lease_seconds * 1000)]):
                log.warning("concurrency lease ran out while the job ran", slot=key)
        except Exception:
            log.warning("could not renew a concurrency lease; will try again", slot=key, exc_info=True)
