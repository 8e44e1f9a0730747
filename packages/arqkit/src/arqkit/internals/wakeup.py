"""Event-driven pickup for arq's polling worker: an idle worker blocks on a wake-up list, not a timer.

arq's worker loop reads the queue (`zrangebyscore`), then sleeps `poll_delay`; nothing can wake that
sleep, so pickup latency is `poll_delay / 2` on average and an idle worker spends Redis commands on
every poll. arq lets a worker run on a pool we give it (`Worker(redis_pool=...)`), and the queue read
is the one await in its loop that goes through that pool. So `WakeableRedis` answers the worker's
queue read this way:

1. One Lua call returns the due jobs that no worker is running yet (arq keeps running jobs in the
   queue until they finish, and would otherwise re-check each one on every poll), and the time of the
   next deferred job; nothing at all while the queue is paused (`queue_control.py`), so arq claims
   no new job and the running ones finish.
2. When nothing is due, it blocks on `BLPOP` of the queue's wake-up list (`enqueue.py` pushes a token
   with every job) until a token arrives, the next deferred job is due, or `idle_wait_seconds` passes;
   then it reads again. arq's own housekeeping (aborts, health key, cron) runs between waits, so at
   least every `idle_wait_seconds`. A resume pushes tokens too, so a paused queue's jobs start at once.

Jobs enqueued without a token (arq's own `enqueue_job`, cron) are still picked up, within
`idle_wait_seconds` (plus arq's `poll_delay`) or at their due time. A wait that ends with no token and
nothing due returns empty: arq's loop reads again after `poll_delay` anyway, so one read per idle wait.
`tests/internals/test_wakeup.py` pins the arq call this relies on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from arq.utils import timestamp_ms

from arqkit import keys, lua
from arqkit.internals.batch_claim import ClaimAwarePipeline, ClaimBook, ClaimPolicy
from arqkit.internals.claims import RunningJobs
from arqkit.internals.reconnect import ResilientArqRedis, WatchSafePipeline
from arqkit.internals.transactions import TransactionBatcher
from arqkit.registry import Registry

MIN_WAIT_SECONDS = 0.001


class WakeableRedis(ResilientArqRedis):
    """The worker's pool: its queue read waits for a wake-up token when there is nothing to run."""

    idle_wait_seconds: float = 1.0
    pipeline_factory: Callable[..., WatchSafePipeline] = ClaimAwarePipeline
    registry: Registry | None = None  # the jobs its worker runs: a flow a job starts is checked (flows.py)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ready_script = self.register_script(lua.source("ready"))
        # Ids of the jobs this worker runs (kept by arqkit.hooks). arq claims whatever has no
        # in-progress key, even a job it is running itself, e.g. when the key expired during a Redis
        # outage longer than CRASH_RECOVERY_SECONDS; such a job must not start a second time here.
        self.running = RunningJobs()
        self.claims: ClaimBook | None = None  # claiming in batches (batch_claim.py), once configured
        # Transactions made in one loop turn leave in one write (transactions.py): arq's finishes above all.
        self.pipeline_options = {"batcher": TransactionBatcher(self.connection_pool, self.reconnect)}

    def claim_in_batches(self, policy: ClaimPolicy) -> None:
        """The queue read claims what it returns (`lua/claim.lua`), answering arq's claim from memory."""
        self.claims = ClaimBook(self, policy, self.running)
        self.pipeline_options["claims"] = self.claims

    async def zrangebyscore(self, name: Any, min: Any, max: Any, *args: Any, **kwargs: Any) -> Any:
        if name != self.default_queue_name or kwargs.get("num") is None:
            return await super().zrangebyscore(name, min, max, *args, **kwargs)
        # arq's poll: zrangebyscore(queue, min=-inf, start=offset, num=count, max=now)
        offset, count = int(kwargs.get("start") or 0), int(kwargs["num"])
        if self.claims is not None and not self.claims.free_slots():
            return []  # every slot still taken: arq reads again after poll_delay, no waiting here
        ready, next_due = await self._ready(name, offset, count)
        if ready:
            return ready
        wait = self.idle_wait_seconds  # (`min` is arq's keyword argument here, not the builtin)
        due = next_due is not None and float(next_due) - timestamp_ms() < wait * 1000
        if due:
            wait = (float(next_due or 0) - timestamp_ms()) / 1000  # (`due`: not None)
        if wait >= MIN_WAIT_SECONDS:
            woken = await self.blpop([keys.wake(name)], timeout=wait)  # type: ignore[arg-type,misc]  # Redis takes a float
            if woken is None and not due:
                # The whole idle wait passed with no token and nothing deferred fell due: arq's loop does
                # its housekeeping and reads again after poll_delay, so a read here would be its twin
                # (issue 24: one queue read per idle wait, not two; a token-less job waits poll_delay more).
                return []
        ready, _ = await self._ready(name, offset, count)
        return ready

    async def _ready(self, queue: str, offset: int, count: int) -> tuple[list[bytes], bytes | None]:
        if self.claims is not None:
            return await self.claims.claim(self, queue, timestamp_ms(), offset, count)
        ready, next_due = await self._ready_script(
            keys=[queue, keys.paused(queue)], args=[timestamp_ms(), offset, count, keys.in_progress("")]
        )
        mine = self.running
        return [i for i in ready if i.decode() not in mine], next_due or None
