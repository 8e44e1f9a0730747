"""arq's claim on a job (its in-progress key) and its try counter, rewritten for crash and deploy safety.

arq claims a job with an in-progress mark that lives `job_timeout + 10 s` (the largest timeout of all
functions: 610 s here) and never refreshes it, so a SIGKILLed worker's job waits that long. We:

- make the mark short (`claim_seconds`: `CRASH_RECOVERY_SECONDS` less the longest an idle worker waits
  before it reads the queue again) when a job is claimed (batch_claim.py) or starts, and refresh it on
  every heartbeat while the job runs (`shorten_claim`), so a dead worker's job runs again within
  `CRASH_RECOVERY_SECONDS`: its mark expires, then another worker's next read (at most
  `WORKER_IDLE_WAIT_SECONDS` later) claims it;
- cap, on every heartbeat, the marks of due jobs in the queue (`cap_claims`): a worker killed between
  arq's claim and `on_job_start` left the long mark behind. A live worker refreshes its marks more
  often than the cap, so capping never lets a running job start twice;
- give a try back (`refund_try`) when a job did not really use it: a deferral, or a shutdown (arq #267).

`tests/internals/test_claims.py` pins the key names and arq's claim TTL these rely on.
"""

from __future__ import annotations

import time

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from arqkit import keys, lua
from arqkit.settings import QueueSettings

DUE_JOBS_CHECKED = 2000


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


async def cap_claims(redis: Redis, queue_name: str, cap_seconds: float) -> int:
    """How many claims were longer than the cap (each one a worker that died right after claiming).

    The in-progress keys are derived from the queue's ids in the script: a single Redis, not Cluster.
    """
    script = redis.register_script(lua.source("cap_claims"))
    capped = await script(
        keys=[queue_name],
        args=[int(time.time() * 1000), keys.in_progress(""), int(cap_seconds * 1000), DUE_JOBS_CHECKED],
    )
    return int(capped)
