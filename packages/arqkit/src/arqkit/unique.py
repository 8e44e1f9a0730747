"""Unique jobs: `@job(unique=Unique("user_id"))` makes an enqueue whose key is taken answer with the job
that took it (`created=False`) instead of writing a second one.

- `Unique("user_id")`: while that job is queued or running (its retries and a crash recovery included).
- `Unique("user_id", for_seconds=60)`: for 60 s after the first enqueue, whatever became of it (a throttle).

The key is the job's name and the values of the named arguments (`Arguments.digest`); `Unique()` with no
argument is one job of that name at a time. The check and the write are one step in Redis (`lua/enqueue.lua`).
A while-active lock holds only while its job's key exists, and arq deletes that key in the same transaction
that ends the job (complete, failed, aborted; a purge or an abort of a queued job too): the lock goes with
it, however the job ends, and a SIGKILLed worker's job keeps it until its re-run finishes. The worker then
deletes the spent lock (`release`, after the finish); one it could not (a purge) expires with the job's
key, the backstop.

An Idempotency-Key that already has its job answers that job; a new one is refused by a held unique key
like any other enqueue (the holder's job is the answer). A dead letter's replay is an operator's decision:
it is not deduplicated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from arqkit import keys, lua
from arqkit.arguments import Arguments


@dataclass(frozen=True, init=False)
class Unique:
    """One job per value of `arguments`: while it is queued or running, or for `for_seconds` after the first
    enqueue."""

    arguments: tuple[str, ...]
    for_seconds: float | None

    def __init__(self, *arguments: str, for_seconds: float | None = None) -> None:
        if for_seconds is not None and for_seconds <= 0:
            raise ValueError("for_seconds must be > 0 (or None: while queued or running)")
        object.__setattr__(self, "arguments", arguments)
        object.__setattr__(self, "for_seconds", for_seconds)


@dataclass(frozen=True)
class UniqueLock:
    """What the enqueue's Lua call checks and takes: the key, and how long it holds."""

    key: str
    window_ms: int | None  # None: while the holder's job is queued or running


def lock_for(
    name: str, arguments: Arguments, unique: Unique, args: Sequence[Any], kwargs: Mapping[str, Any]
) -> UniqueLock:
    """The lock an enqueue of `name` with these (encoded, JSON) arguments takes."""
    key = keys.unique_lock(name, arguments.digest(unique.arguments, args, kwargs))
    window = unique.for_seconds
    return UniqueLock(key, None if window is None else max(1, round(window * 1000)))


async def release(redis: Redis, lock: UniqueLock, job_id: str) -> None:
    """After a try of `job_id`: delete its while-active lock if the job has ended (tidiness only: a lock
    whose job key is gone holds nothing already)."""
    if lock.window_ms is None:
        unlock = redis.register_script(lua.source("unlock"))
        await unlock(keys=[lock.key, keys.job(job_id)], args=[job_id])
