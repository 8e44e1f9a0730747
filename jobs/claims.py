"""Cap arq's claim on a job at `CRASH_RECOVERY_SECONDS`.

arq claims a job with an in-progress mark that lives `job_timeout + 10 s` (the largest timeout of all
functions: 610 s here). `on_job_start` shortens it and the heartbeat keeps it fresh, but a worker
killed between the claim and `on_job_start` leaves the long mark behind. So every heartbeat also caps
the marks of the due jobs in the queue, server-side in one round trip. A live worker refreshes its
marks more often than the cap, so capping never lets a running job start twice.
"""

from __future__ import annotations

import time

from arq.connections import ArqRedis

from jobs import keys

# KEYS[1] queue; ARGV: now ms, in-progress key prefix, cap ms, how many due jobs to look at.
# The in-progress keys are derived from the queue's ids, so this script is for a single Redis, not Cluster.
_CAP_CLAIMS = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[4]))
local capped = 0
for _, id in ipairs(ids) do
  local mark = ARGV[2] .. id
  if redis.call('PTTL', mark) > tonumber(ARGV[3]) then
    redis.call('PEXPIRE', mark, ARGV[3])
    capped = capped + 1
  end
end
return capped
"""

DUE_JOBS_CHECKED = 2000


async def cap_claims(redis: ArqRedis, queue_name: str, cap_seconds: float) -> int:
    """How many claims were longer than the cap (each one a worker that died right after claiming)."""
    capped = await redis.eval(  # type: ignore[misc]  # redis-py's sync/async union return type
        _CAP_CLAIMS,
        1,
        queue_name,
        str(int(time.time() * 1000)),
        keys.in_progress(""),
        str(int(cap_seconds * 1000)),
        str(DUE_JOBS_CHECKED),
    )
    return int(capped)
