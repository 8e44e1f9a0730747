"""arqkit: durable arq jobs behind FastAPI. Your code imports from here, and only what is named below:

    from arqkit import QueueSettings                   # your Settings extends it
    from arqkit import JobContext, Cron, job           # declare a job, its context and its policy
    from arqkit import SyncJobContext                  # the context of a plain `def` job
    from arqkit import build_worker_settings           # arq's WorkerSettings, with your worker lifespan
    from arqkit import throttle, concurrency_slot      # traffic control inside a job
    from arqkit import report_progress                 # progress for GET /jobs/{id}
    from arqkit import PermanentError, TransientError  # tell the retry policy what failed
    from arqkit import JobQueue, QueueAdmin            # the job client, the operator interface
    from arqkit import flows                           # chains, groups, callbacks: queue.enqueue_flow(...)
    from arqkit.web import QueueService                # the FastAPI side: lifespan, routes, middleware
    from arqkit.testing import JobKit                  # test your jobs as a worker runs them

Inside: `internals/` is the only package that imports arq or leans on arq's and redis-py's private
behaviour; `keys.py` owns every Redis key name; `lua/` holds every Lua script.
"""

from __future__ import annotations

from arqkit.admin import QueueAdmin
from arqkit.arguments import JobPayloadInvalid
from arqkit.capacity import concurrency_slot, rate_of, throttle
from arqkit.client import Enqueued, JobQueue
from arqkit.context import JobContext, SyncJobContext, WorkerLifespan
from arqkit.dead_letters import count as count_dead_letters
from arqkit.errors import (
    DeadLetterNotFound,
    EditedArgumentsInvalid,
    EnqueueUnconfirmed,
    IdempotencyKeyReused,
    JobAlreadyFinished,
    JobArgumentsInvalid,
    JobNotEditable,
    JobNotFound,
    JobNotRegistered,
    QueueError,
    QueueUnavailable,
    RateLimited,
    ReplayConflict,
    ReplicationTimeout,
    UnknownQueue,
)
from arqkit.internals.worker import build_worker_settings
from arqkit.job import Cron, JobDefinition, Outcome, job
from arqkit.per_key import PerKey
from arqkit.progress import report_progress
from arqkit.registry import DuplicateJobName, Registry
from arqkit.retry import PermanentError, RetryPolicy, TransientError
from arqkit.settings import QueueSettings
from arqkit.unique import Unique

__version__ = "0.1.0"

__all__ = [
    "Cron",
    "DeadLetterNotFound",
    "DuplicateJobName",
    "EditedArgumentsInvalid",
    "EnqueueUnconfirmed",
    "Enqueued",
    "IdempotencyKeyReused",
    "JobAlreadyFinished",
    "JobArgumentsInvalid",
    "JobContext",
    "JobDefinition",
    "JobNotEditable",
    "JobNotFound",
    "JobNotRegistered",
    "JobPayloadInvalid",
    "JobQueue",
    "Outcome",
    "PerKey",
    "PermanentError",
    "QueueAdmin",
    "QueueError",
    "QueueSettings",
    "QueueUnavailable",
    "RateLimited",
    "Registry",
    "ReplayConflict",
    "ReplicationTimeout",
    "RetryPolicy",
    "SyncJobContext",
    "TransientError",
    "Unique",
    "UnknownQueue",
    "WorkerLifespan",
    "build_worker_settings",
    "concurrency_slot",
    "count_dead_letters",
    "job",
    "rate_of",
    "report_progress",
    "throttle",
]
