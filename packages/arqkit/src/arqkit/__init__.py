"""The queue machinery. Your code imports from here, and only what is named below:

    from arqkit import Ctx, Cron, job                  # declare a job and its policy
    from arqkit import throttle, concurrency_slot      # traffic control inside a job
    from arqkit import report_progress                 # progress for GET /jobs/{id}
    from arqkit import PermanentError, TransientError  # tell the retry policy what failed
    from arqkit import JobQueue, QueueAdmin            # the job client, the operator interface
    from arqkit.testing import JobKit                  # test your jobs as a worker runs them

Inside: `internals/` is the only package that imports arq or leans on arq's and redis-py's private
behaviour; `keys.py` owns every Redis key name; `lua/` holds every Lua script.
"""

from __future__ import annotations

from arqkit.admin import QueueAdmin
from arqkit.arguments import JobPayloadInvalid
from arqkit.capacity import concurrency_slot, rate_of, throttle
from arqkit.client import Enqueued, JobQueue
from arqkit.errors import (
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
from arqkit.internals.worker import build_worker_settings
from arqkit.job import Cron, Ctx, JobDefinition, Outcome, job
from arqkit.progress import report_progress
from arqkit.registry import DuplicateJobName, Registry
from arqkit.retry import PermanentError, RetryPolicy, TransientError

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
