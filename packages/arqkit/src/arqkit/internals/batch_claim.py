"""The worker claims due jobs in batches, one Lua call per queue read instead of arq's round trips per job.

arq's poll reads due ids, then for each one, in turn: WATCH, EXISTS, ZSCORE, MULTI/PSETEX/EXEC (its
claim), and in the job's task a MULTI of GET, INCR, EXPIRE, ZREM (payload, try counter, abort marker);
our `on_job_start` then shortened the claim and wrote `started_at`. Six round trips before a job runs,
four of them one job after another in arq's main loop: on a no-op job that is most of its cost.

Here the worker's queue read (`WakeableRedis.zrangebyscore`) runs `lua/claim.lua`, which does all of
that for up to as many jobs as the worker has free slots, atomically, and keeps the answers in a
`ClaimBook`. arq's loop is unchanged: it still runs its claim and its run_job reads for each id, and
the worker pool's pipelines (`ClaimAwarePipeline`) answer those from the book without a round trip,
as Redis would have answered them right after the script. Then arq runs the job, its hooks, its
timeout, its retry and its finish (one MULTI/EXEC per job) exactly as before.

What keeps this as safe as arq's own claim:
- it claims no more jobs than arq will start: arq starts every id its read returns while it has fewer
  than `max_jobs` running, and a claim is counted here until its job's task is done (after arq's own
  count drops);
- a claim is short (`CRASH_RECOVERY_SECONDS`) from the start, and the claim keeper renews it (the book
  adds the id to the pool's `RunningJobs`): a killed worker's jobs run again within that time;
- a claim arq did not start by its next read, and on shutdown every claim whose job never began, is
  given back: claim deleted, try counter decremented, abort marker restored;
- a claim names its worker and try (`<token>:<try>`), and arq's finish of a run (its MULTI/EXEC) is sent
  as `lua/finish.lua`, which drops it if another worker's claim holds the job, or if there is no claim
  and the job is gone: a run whose claim lapsed (Redis away longer than the claim: the heartbeat could
  not renew it, the finish was being retried) and whose job another worker claimed since never deletes
  that worker's claim, the job or its queue entry under it, nor puts a job finished elsewhere back in the
  queue; the other run finishes the job (at least once).
`tests/internals/test_batch_claim.py` pins arq's command sequence this answers.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from arqkit import keys, lua
from arqkit.internals.claims import RunningJobs
from arqkit.internals.transactions import BatchedTransactionPipeline

log = structlog.get_logger("jobs.worker")
RETRY_KEY_TTL_SECONDS = 88400  # arq's run_job: the try counter's TTL
# lua/finish.lua, the code without the comments: a finish sends the code itself (EVAL, which Redis caches)
# until one has run, then only its hash (EVALSHA), and the code again if Redis forgot it (restarted)
_FINISH = "\n".join(line for line in lua.source("finish").splitlines() if not line.startswith("--"))
_FINISH_SHA = hashlib.sha1(_FINISH.encode(), usedforsecurity=False).hexdigest()


@dataclass
class Claim:
    """What `lua/claim.lua` did for one job, as arq's commands would have seen it."""

    score: float
    payload: bytes | None
    job_try: int
    aborted: int
    taken: bool = False  # arq's claim of it ran (answered from here)
    started: bool = False  # arq's run_job read it (answered from here): its task is running


@dataclass(frozen=True)
class ClaimPolicy:
    """How the worker claims: as many as `max_jobs` at once, each for `claim_seconds` (renewed by the
    heartbeat), with the job's status record (`started_at`) kept `meta_ttl_seconds`."""

    max_jobs: int
    claim_seconds: float
    meta_ttl_seconds: int


class ClaimBook:
    """One worker's claims that arq has not finished with, by job id. One event loop: no locks."""

    def __init__(self, redis: Redis, policy: ClaimPolicy, running: RunningJobs) -> None:
        self.policy = policy
        self.claims: dict[str, Claim] = {}
        self._running = running  # the claim keeper renews the claims of these ids (claim_keeper.py)
        self._script = redis.register_script(lua.source("claim"))
        self.token = uuid.uuid4().hex[:16]  # in its claims (`<token>:<try>`): hex, cap_claims.lua
        self.finish_cached = False  # a finish sent lua/finish.lua's code: Redis knows its hash

    def free_slots(self) -> int:
        return max(0, self.policy.max_jobs - len(self.claims))

    async def claim(
        self, redis: Redis, queue: str, now_ms: int, offset: int, window: int
    ) -> tuple[list[bytes], bytes | None]:
        """(ids claimed, in queue order; the next deferred job's score, if nothing is due)."""
        await self.give_back(redis, [i for i, claim in self.claims.items() if not claim.taken])
        count = min(window, self.free_slots())
        if count <= 0:
            return [], None
        policy = self.policy
        args: list[Any] = [now_ms, offset, window, count, int(policy.claim_seconds * 1000)]
        args += [f"{time.time():.3f}", policy.meta_ttl_seconds, self.token]
        args += [keys.in_progress(""), keys.job(""), keys.retry(""), keys.job_meta(""), *self._running]
        claimed, next_due, *clock = await self._script(
            keys=[queue, keys.paused(queue), keys.ABORT_SET], args=args
        )  # a paused queue answers without Redis's clock: nothing was claimed to put on ours
        # Due means due by Redis's clock (lua/queue_head.lua). arq compares a job's score with its own
        # clock (start_jobs skips a score in its future; a retry's delay is counted from it), so the score
        # it is answered is moved onto this worker's clock: a clock that is behind delays nothing. At least
        # 1: arq reads a score of 0 as "no such job" (`not score`) and would never start it.
        skew_ms = now_ms - int(clock[0]) if clock else 0
        ids = []
        for raw_id, score, payload, job_try, aborted in claimed:
            job_id = raw_id.decode()
            on_our_clock = max(float(score) + skew_ms, 1.0)
            self.claims[job_id] = Claim(on_our_clock, payload or None, int(job_try), int(aborted))
            self._running.add(job_id, f"{self.token}:{int(job_try)}")
            ids.append(raw_id)
        return ids, next_due or None

    async def give_back(self, redis: Redis, job_ids: list[str]) -> None:
        """Undo the claims of jobs that never started: claim, try and abort marker as they were."""
        if not job_ids:
            return
        async with redis.pipeline(transaction=True) as pipe:
            for job_id in job_ids:
                claim = self.claims.pop(job_id)
                self._running.discard(job_id)
                pipe.delete(keys.in_progress(job_id))
                pipe.decr(keys.retry(job_id))
                if claim.aborted:
                    pipe.zadd(keys.ABORT_SET, {job_id: int(time.time() * 1000)})
            await pipe.execute()
        log.warning("claims given back: their jobs never started here", jobs=len(job_ids))

    async def give_back_unstarted(self, redis: Redis) -> None:
        """On shutdown: every claim whose job never began (it will run elsewhere, its try unspent)."""
        await self.give_back(redis, [i for i, claim in self.claims.items() if not claim.started])

    def take(self, watched: tuple[Any, ...]) -> Claim | None:
        """arq's claim is about to WATCH this in-progress key: the claim, if the script made it."""
        if len(watched) != 1:
            return None
        job_id = _id_after(watched[0], keys.in_progress(""))
        claim = self.claims.get(job_id) if job_id else None
        if claim is None or claim.taken:
            return None
        claim.taken = True
        return claim

    def start(self, stack: Sequence[tuple[tuple[Any, ...], Mapping[str, Any]]]) -> list[Any] | None:
        """arq's run_job reads (GET job, INCRBY try, EXPIRE try[, ZREM abort]): the script's answers."""
        if len(stack) not in (3, 4) or stack[0][0][0] != "GET":
            return None
        job_id = _id_after(stack[0][0][1], keys.job(""))
        claim = self.claims.get(job_id) if job_id else None
        if job_id is None or claim is None or not claim.taken or claim.started:
            return None
        expected: list[tuple[Any, ...]] = [("GET", keys.job(job_id)), ("INCRBY", keys.retry(job_id), 1)]
        expected += [("EXPIRE", keys.retry(job_id), RETRY_KEY_TTL_SECONDS), ("ZREM", keys.ABORT_SET, job_id)]
        if [args for args, _ in stack] != expected[: len(stack)]:
            return None
        claim.started = True
        task = asyncio.current_task()  # arq's run_job task: the claim counts until it is done
        if task is not None:
            task.add_done_callback(lambda _: self._release(job_id))
        return [claim.payload, claim.job_try, True, claim.aborted][: len(stack)]

    def finishing(self, stack: Sequence[tuple[tuple[Any, ...], Mapping[str, Any]]]) -> tuple[str, str] | None:
        """arq's finish of a run this worker claimed (its transaction deletes or re-times the claim): the
        job's id and the claim's value while it is still this run's."""
        for args, _ in stack:
            if args[0] not in ("DEL", "PEXPIRE"):
                continue
            for key in args[1:] if args[0] == "DEL" else args[1:2]:
                job_id = _id_after(key, keys.in_progress(""))
                claim = self.claims.get(job_id) if job_id else None
                if job_id is not None and claim is not None and claim.started:
                    return job_id, f"{self.token}:{claim.job_try}"
        return None

    def _release(self, job_id: str) -> None:
        self.claims.pop(job_id, None)
        self._running.discard(job_id)


def _id_after(key: Any, prefix: str) -> str | None:
    text = key.decode() if isinstance(key, bytes) else str(key)
    return text[len(prefix) :] if text.startswith(prefix) else None


async def _answer(value: Any) -> Any:
    return value


class ClaimAwarePipeline(BatchedTransactionPipeline):
    """The worker pool's pipelines: arq's claim and run_job reads of a batch-claimed job are answered
    from the `ClaimBook`; everything else goes to Redis."""

    def __init__(self, *args: Any, claims: ClaimBook | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._book = claims
        self._claim: Claim | None = None
        self.finish_dropped = False  # the last execute was a late finish, dropped (lua/finish.lua)

    async def watch(self, *names: Any) -> Any:  # type: ignore[override]  # redis-py types it as sync
        claim = self._book.take(names) if self._book is not None else None
        if claim is None:
            return await super().watch(*names)
        self._claim = claim  # arq's EXISTS and ZSCORE next, then MULTI, PSETEX, EXEC
        return True

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        if self._claim is not None and not self.explicit_transaction:
            if args[0] == "EXISTS":
                return _answer(0)  # not claimed by another worker: the script claimed it for us
            if args[0] == "ZSCORE":
                return _answer(self._claim.score)
        return super().execute_command(*args, **kwargs)

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        self.finish_dropped = False
        if self._claim is not None:  # arq's MULTI/PSETEX/EXEC: the claim is already made
            await self.reset()
            return [True]
        book = self._book
        if book is None:
            return await super().execute(raise_on_error)
        answers = book.start(self.command_stack)
        if answers is not None:
            await self.reset()
            return answers
        finishing = book.finishing(self.command_stack) if self.is_transaction else None
        if finishing is None or self.watching:
            return await super().execute(raise_on_error)
        job_id, token = finishing
        commands = [args for args, _ in self.command_stack]
        flat: list[Any] = [part for args in commands for part in (len(args), *args)]
        claim_keys = (keys.in_progress(job_id), keys.job(job_id))
        guarded: tuple[Any, ...] = (len(claim_keys), *claim_keys, token, *flat)
        replies = await self._finish(book, guarded, raise_on_error)
        self.finish_dropped = replies == [0]
        if self.finish_dropped:
            log.warning("a late finish was dropped: another worker claimed the job since", job_id=job_id)
        return [None] * len(commands)  # arq reads no reply of its finish

    async def _finish(self, book: ClaimBook, guarded: tuple[Any, ...], raise_on_error: bool) -> list[Any]:
        """Run lua/finish.lua as this pipeline's one command; its hash if Redis knows it, else its code."""
        if book.finish_cached:
            replies = await self._run_alone(("EVALSHA", _FINISH_SHA, *guarded), raise_on_error)
            if not (replies and isinstance(replies[0], NoScriptError)):
                return replies
        replies = await self._run_alone(("EVAL", _FINISH, *guarded), raise_on_error)
        book.finish_cached = True
        return replies

    async def _run_alone(self, command: tuple[Any, ...], raise_on_error: bool) -> list[Any]:
        """A transaction of this one command: a NOSCRIPT error is its reply (nothing ran)."""
        self.command_stack = [(command, {})]
        try:
            return await super().execute(raise_on_error)
        except NoScriptError as unknown:
            return [unknown]

    async def reset(self) -> None:
        self._claim = None
        await super().reset()
