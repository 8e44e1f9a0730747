"""A sliding-window rate limiter in Redis: one Lua call per decision, exact across processes.

The window is a log (a zset of admission times), so at most `count` requests are admitted in any
`period`, wherever the window starts: a fixed window lets twice the limit through at its edge. Times
come from Redis's clock, so every API process and worker agrees on them.

The API asks "now or never" (`max_wait=0`): alone (`acquire`), or as the `Admission` of an enqueue, in
the enqueue's own Redis call (`JobQueue.admitted_by`), so a rate-limited producer costs one round trip.
A job may reserve a slot up to `max_wait` ahead and sleep until it; a longer wait reserves nothing and
tells the job to defer itself.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from arqkit import lua

_RATE = re.compile(r"^([1-9][0-9]*)/([0-9]*\.?[0-9]+)?(s|sec|second|m|min|minute|h|hour)$")
_UNIT_SECONDS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}


@dataclass(frozen=True)
class Rate:
    """`count` requests per `period_seconds`."""

    count: int
    period_seconds: float

    @classmethod
    def parse(cls, text: str) -> Rate:
        """ "5/minute", "60/min", "10/second", "10/2s"."""
        match = _RATE.match(text.strip())
        if not match:
            raise ValueError(f"{text!r} is not a rate such as 5/minute or 10/2s")
        count, multiple, unit = match.groups()
        period = float(multiple or 1) * _UNIT_SECONDS[unit]
        if period <= 0:
            raise ValueError(f"{text!r} has an empty period")
        return cls(int(count), period)

    @property
    def period_ms(self) -> int:
        return int(self.period_seconds * 1000)

    def __str__(self) -> str:
        return f"{self.count}/{self.period_seconds:g}s"


@dataclass(frozen=True)
class Decision:
    admitted: bool
    limit: int
    remaining: int
    wait_seconds: float  # admitted: until its reserved slot (0 unless ahead); denied: until one frees
    reset_seconds: float  # until the whole window is free again

    @property
    def retry_after(self) -> int:
        """`wait_seconds` as HTTP delta-seconds, rounded up so a client that honours it is admitted."""
        return max(1, math.ceil(self.wait_seconds))

    @classmethod
    def from_reply(cls, rate: Rate, reply: Sequence[Any]) -> Decision:
        """`window.lua`'s {admitted, remaining, wait ms, reset ms}."""
        admitted, remaining, wait_ms, reset_ms = (int(v) for v in reply)
        return cls(bool(admitted), rate.count, remaining, wait_ms / 1000, reset_ms / 1000)


@dataclass(frozen=True)
class Admission:
    """A "now or never" decision an enqueue asks for first, in the same Redis call: refused, nothing is
    written. `window` is a key from `keys.rate_window`."""

    window: str
    rate: Rate


class SlidingWindowLimiter:
    """Decides admissions against one Redis; the caller names the window with a key from `jobs.keys`."""

    def __init__(self, redis: Redis) -> None:
        self._script = redis.register_script(lua.source("sliding_window"))

    async def acquire(self, key: str, rate: Rate, max_wait_seconds: float = 0.0) -> Decision:
        return await self._decide(key, rate, [int(max_wait_seconds * 1000), uuid.uuid4().hex])

    async def peek(self, key: str, rate: Rate) -> Decision:
        """Would a request be admitted now? Records nothing (count only failures, refuse once too many)."""
        return await self._decide(key, rate, [0, "", "peek"])

    async def _decide(self, key: str, rate: Rate, args: list[int | str]) -> Decision:
        raw = await self._script(keys=[key], args=[rate.count, rate.period_ms, *args])
        return Decision.from_reply(rate, raw)
