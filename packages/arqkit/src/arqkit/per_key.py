"""Per-key concurrency (fairness): `@job(concurrency=PerKey("tenant_id", limit=2))` lets at most 2 runs of
the job hold the same `tenant_id` at once, across all workers, so one tenant's thousand jobs cannot take
every slot.

The worker takes the key's lease before the job's code runs (`JobDefinition.run`). A job over its key's cap
goes back to the queue with its try given back: it never fails for waiting, and the worker moves on to the
jobs behind it (other keys run meanwhile). It joins the key's waiting line, and a run that frees a slot
makes the first of the line due at once (`lua/key_release.lua`); so a waiting job need not come back
often: about `CONCURRENCY_RECHECK_SECONDS` at the head of the line, longer further back (at most a lease's
length), the recheck being only the backstop for a wake-up lost with a killed worker. A lease is renewed
while its job runs and runs out by itself when its worker is killed (`leases.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from arqkit import keys, leases, lua, priorities
from arqkit.arguments import Arguments
from arqkit.internals.enqueue import WAKE_TOKENS_MAX
from arqkit.settings import QueueSettings

WAITING_LINE_TTL_MS = 86_400_000  # a line no job has joined for a day is dropped


@dataclass(frozen=True, init=False)
class PerKey:
    """At most `limit` runs at once per value of `arguments` (`PerKey(limit=1)` alone: one at a time)."""

    arguments: tuple[str, ...]
    limit: int

    def __init__(self, *arguments: str, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be >= 1")
        object.__setattr__(self, "arguments", arguments)
        object.__setattr__(self, "limit", limit)


@dataclass(frozen=True)
class Refused:
    """The key's cap is reached: `ahead` jobs of the key wait before this one."""

    ahead: int

    def wait_seconds(self, limit: int, settings: QueueSettings) -> float:
        """How long the job goes back to the queue: longer the further back in the line (a freed slot wakes
        the first of it anyway), at most a lease's length."""
        backstop = leases.recheck_delay(settings) * (1 + self.ahead / limit)
        return min(backstop, settings.concurrency_lease_seconds)


class KeyLease(leases.Lease):
    """A per-key slot: freeing it wakes the first jobs of the key's waiting line."""

    def __init__(
        self, redis: Redis, key: str, waiting: str, holder: str, limit: int, settings: QueueSettings
    ) -> None:
        super().__init__(redis, key, holder, settings.concurrency_lease_seconds)
        self._waiting = waiting
        self._limit = limit
        self._queues = priorities.all_queue_names(settings)

    async def _free(self, redis: Redis, holder: str) -> None:
        queue_keys = [name for queue in self._queues for name in (queue, keys.wake(queue))]
        release = redis.register_script(lua.source("key_release"))
        await release(
            keys=[self.key, self._waiting, *queue_keys], args=[holder, self._limit, WAKE_TOKENS_MAX]
        )


async def acquire(
    per_key: PerKey,
    name: str,
    arguments: Arguments,
    redis: Redis,
    settings: QueueSettings,
    job_id: str,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
) -> KeyLease | Refused:
    """A slot of the key this run's (stored, JSON) arguments name, or `Refused` when its cap is reached."""
    digest = arguments.digest(per_key.arguments, args, kwargs)
    key, waiting = keys.per_key_leases(name, digest), keys.per_key_waiting(name, digest)
    holder = leases.holder_of(job_id)
    lease_ms = int(settings.concurrency_lease_seconds * 1000)
    acquired, ahead = await redis.register_script(lua.source("key_acquire"))(
        keys=[key, waiting], args=[per_key.limit, holder, lease_ms, job_id, WAITING_LINE_TTL_MS]
    )
    if not acquired:
        return Refused(int(ahead))
    return KeyLease(redis, key, waiting, holder, per_key.limit, settings)
