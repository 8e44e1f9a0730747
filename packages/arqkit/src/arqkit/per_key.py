"""Per-key concurrency (fairness): `@job(concurrency=PerKey("tenant_id", limit=2))` lets at most 2 runs of
the job hold the same `tenant_id` at once, across all workers, so one tenant's thousand jobs cannot take
every slot.

The worker takes the key's lease before the job's code runs (`JobDefinition.run`). A job over its key's cap
goes back to the queue for about `CONCURRENCY_RECHECK_SECONDS` (spread out) with its try given back: it
never fails for waiting, and the worker moves on to the jobs behind it (other keys run meanwhile). A
lease is renewed while its job runs and runs out by itself when its worker is killed (`leases.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from arqkit import keys, leases
from arqkit.arguments import Arguments
from arqkit.settings import QueueSettings


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


async def acquire(
    per_key: PerKey,
    name: str,
    arguments: Arguments,
    redis: Redis,
    settings: QueueSettings,
    job_id: str,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
) -> leases.Lease | None:
    """A slot of the key this run's (stored, JSON) arguments name, or None when its cap is reached."""
    key = keys.per_key_leases(name, arguments.digest(per_key.arguments, args, kwargs))
    return await leases.acquire(redis, key, per_key.limit, job_id, settings)
