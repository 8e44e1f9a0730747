"""arq's claim on a job (its in-progress key) and its try counter, rewritten for crash and deploy safety.

arq claims a job with an in-progress mark that lives `job_timeout + 10 s` (the largest timeout of all
functions: 610 s here) and never refreshes it, so a SIGKILLed worker's job waits that long. We:

- make the mark short (`claim_seconds`: `CRASH_RECOVERY_SECONDS` less the longest an idle worker waits
  before it reads the queue again) when a job is claimed (batch_claim.py) or starts, and refresh it on
  every heartbeat while the job runs (`shorten_claim`), so a dead worker's job runs again within
  `CRASH_RECOVERY_SECONDS`: its mark expires, then another worker's next read (at most
  `WORKER_IDLE_WAIT_SECONDS` later) claims it;
- cap, on every heartbeat, our own marks of due jobs in the queue (`cap_claims`) at our claim's length:
  one made longer (a worker with a longer `CRASH_RECOVERY_SECONDS`) whose worker died. A live worker of
  ours refreshes its marks more often than the cap, so capping never lets a running job start twice.
  A mark we did not make (arq's own value, `1`: a stock arq worker in a mixed fleet, or one of our
  workers from before the batch claim) is never capped: its worker renews nothing, so a cap would start
  its live job again; it lasts arq's `job_timeout + 10 s`;
- give a try back (`refund_try`) when a job did not really use it: a deferral, or a shutdown (arq #267).

The renewal runs in a thread of its own (claim_keeper.py), not on the event loop a job may block, and
stops at each job's deadline (`RunningJobs`): its timeout plus `CLAIM_GRACE_SECONDS` from its start.

`tests/internals/test_claims.py` pins the key names and arq's claim TTL these rely on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from arqkit import keys, lua
from arqkit.settings import QueueSettings

DUE_JOBS_CHECKED = 2000


@dataclass
class RunningJob:
    claim: str | None  # the claim's value as this worker wrote it (`<token>:<try>`); None: arq's own
    deadline: float  # monotonic: its claim is renewed until then
    function: str | None = None  # known once it starts


class RunningJobs:
    """The jobs one worker has claimed, until arq is done with each: its queue read skips them, and the
    claim keeper's thread renews their claims until each one's deadline. A claimed job's deadline is
    `bound_seconds` away (arq's own claim: the longest timeout plus a grace); once it starts, its own
    timeout plus `grace_seconds`. Shared by the event loop and that thread, hence the lock."""

    def __init__(self, bound_seconds: float = 3600.0, grace_seconds: float = 10.0) -> None:
        self.bound_seconds = bound_seconds
        self.grace_seconds = grace_seconds
        self._jobs: dict[str, RunningJob] = {}
        self._lock = threading.Lock()

    def add(self, job_id: str, claim: str | None = None) -> None:
        with self._lock:
            if job_id not in self._jobs:
                self._jobs[job_id] = RunningJob(claim, time.monotonic() + self.bound_seconds)

    def started(self, job_id: str, function: str, timeout_seconds: float) -> None:
        """The job's function runs now: its claim lives until its timeout plus the grace."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                job.function = function
                job.deadline = time.monotonic() + timeout_seconds + self.grace_seconds

    def discard(self, job_id: str) -> None:
        with self._lock:
            self._jobs.pop(job_id, None)

    def snapshot(self) -> dict[str, RunningJob]:
        with self._lock:
            return {job_id: RunningJob(j.claim, j.deadline, j.function) for job_id, j in self._jobs.items()}

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._jobs

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter(list(self._jobs))

    def __len__(self) -> int:
        return len(self._jobs)


def renewal_seconds(settings: QueueSettings) -> float:
    """How often the heartbeat renews the claims of running jobs."""
    return min(settings.worker_heartbeat_seconds, settings.crash_recovery_seconds / 3)


def claim_seconds(settings: QueueSettings) -> float:
    """How long a claim lives unrenewed: a dead worker's job is read again within `crash_recovery_seconds`,
    and a live worker renews it at least twice in that time."""
    return max(
        settings.crash_recovery_seconds - settings.worker_idle_wait_seconds, 2 * renewal_seconds(settings)
    )


def shorten_claim(pipe: Pipeline, job_id: str, seconds: float) -> None:
    """Queue on `pipe`: the job's in-progress mark lives `seconds` from now."""
    pipe.pexpire(keys.in_progress(job_id), int(seconds * 1000))


async def refund_try(redis: Redis, job_id: str) -> None:
    """arq counted this run when it started it; the run did not count."""
    await redis.decr(keys.retry(job_id))


async def cap_claims(redis: Redis, queue_name: str, cap_seconds: float, every_seconds: float = 0) -> int:
    """How many of our claims were longer than the cap (`lua/claim.lua`'s `<token>:<try>` values only).

    `every_seconds` (the heartbeat's interval): one worker of the queue sweeps per interval, the others'
    calls return 0 at once; 0 sweeps regardless. The in-progress keys are derived from the queue's ids in
    the script: a single Redis, not Cluster.
    """
    script = redis.register_script(lua.source("cap_claims"))
    sweep = int(every_seconds * 1000)
    capped = await script(
        keys=[queue_name, keys.cap_sweep(queue_name)],
        args=[
            int(time.time() * 1000),
            keys.in_progress(""),
            int(cap_seconds * 1000),
            DUE_JOBS_CHECKED,
            sweep,
        ],
    )
    return int(capped)
