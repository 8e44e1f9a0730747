"""The queue machinery. Your code imports from here, and only what is named below:

    from jobs.core import Ctx, Cron, job                  # declare a job and its policy
    from jobs.core import throttle, concurrency_slot      # traffic control inside a job
    from jobs.core import report_progress                 # progress for GET /jobs/{id}
    from jobs.core import PermanentError, TransientError  # tell the retry policy what failed
    from jobs.core import JobQueue, QueueAdmin            # the job client, the operator interface
    from jobs.core.testing import JobKit                  # test your jobs as a worker runs them

Inside: `internals/` is the only package that imports arq or leans on arq's and redis-py's private
behaviour; `keys.py` owns every Redis key name; `lua/` holds every Lua script.
"""

from __future__ import annotations

from jobs.core.admin import QueueAdmin
from jobs.core.arguments import JobPayloadInvalid
from jobs.core.capacity import concurrency_slot, rate_of, throttle
from jobs.core.client import Enqueued, JobQueue
from jobs.core.errors import (
    DeadLetterNotFound,
    IdempotencyKeyReused,
    JobAlreadyFinished,
    JobArgumentsInvalid,
    JobNotFound,
    QueueError,
    QueueUnavailable,
    RateLimited,
    ReplicationTimeout,
    UnknownQueue,
)
from jobs.core.internals.worker import build_worker_settings
from jobs.core.job import Cron, Ctx, JobDefinition, Outcome, job
from jobs.core.progress import report_progress
from jobs.core.registry import DuplicateJobName, Registry
from jobs.core.retry import PermanentError, RetryPolicy, TransientError

__all__ = [
    "Cron",
    "Ctx",
    "DeadLetterNotFound",
    "DuplicateJobName",
    "Enqueued",
    "IdempotencyKeyReused",
    "JobAlreadyFinished",
    "JobArgumentsInvalid",
    "JobDefinition",
    "JobNotFound",
    "JobPayloadInvalid",
    "JobQueue",
    "Outcome",
    "PermanentError",
    "QueueAdmin",
    "QueueError",
    "QueueUnavailable",
    "RateLimited",
    "Registry",
    "ReplicationTimeout",
    "RetryPolicy",
    "TransientError",
    "UnknownQueue",
    "build_worker_settings",
    "concurrency_slot",
    "job",
    "rate_of",
    "report_progress",
    "throttle",
]
