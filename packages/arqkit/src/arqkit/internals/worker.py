"""The arq `WorkerSettings` class for a registry of jobs: our jobs, cron schedules and hooks in arq's terms.

arq reads settings from the class `__dict__` only (inherited attributes are ignored, arq #472), so the
class is built by a function; tests and other queues build their own variant the same way. Each class
has its own `ResultTap` (the serializer that notes final failures), carried to the hooks in `ctx`.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from typing import Any

from arq.worker import Function, func

from arqkit import hooks, keys, priorities
from arqkit.context import WorkerLifespan
from arqkit.internals.batch_claim import ClaimPolicy
from arqkit.internals.claims import claim_seconds
from arqkit.internals.connection import create_worker_redis, worker_redis_settings
from arqkit.internals.cron import arq_cron
from arqkit.internals.result_tap import ResultTap
from arqkit.job import RESULT_TAP, JobDefinition
from arqkit.priorities import Priority
from arqkit.registry import Registry
from arqkit.serializer import deserialize
from arqkit.settings import QueueSettings


def arq_function(definition: JobDefinition[..., Any], settings: QueueSettings) -> Function:
    return func(
        definition.run,
        name=definition.name,
        max_tries=definition.max_tries(settings),
        timeout=definition.timeout_seconds(settings),
        keep_result=definition.keep_result_seconds(settings),
    )


def worker_host() -> str:
    """The pod's name (HOSTNAME, set by Kubernetes and Docker), else the machine's: the same in a worker
    and in the `arq ... --check` run beside it."""
    return os.environ.get("HOSTNAME") or socket.gethostname()


def claim_policy(settings: QueueSettings) -> ClaimPolicy:
    """At most `WORKER_MAX_JOBS` claims, each as short as crash recovery needs (the heartbeat renews it)."""
    return ClaimPolicy(
        max_jobs=settings.worker_max_jobs,
        claim_seconds=claim_seconds(settings),
        meta_ttl_seconds=settings.keep_result_seconds + settings.job_timeout,
    )


async def _no_jobs_yet(ctx: dict[str, Any]) -> None:
    """Never enqueued (not in any registry): arq refuses to start a worker without a function, and a
    service whose registry is still empty runs its workers all the same."""


def build_worker_settings(
    settings: QueueSettings,
    registry: Registry,
    priority: Priority = "default",
    lifespan: WorkerLifespan[Any, Any] | None = None,
) -> type[Any]:
    """A worker for one priority's queue: it can run every job; cron fires on the default queue only.
    `lifespan(settings)` is opened at the worker's start: what it yields is each job's `ctx.resources`."""
    own = priorities.settings_for(settings, priority)
    tap = ResultTap(priority)  # its dead letters are counted under the worker's queue
    pool = create_worker_redis(own)  # idle: waits for a wake-up (internals/wakeup.py)
    pool.pipeline_factory = tap.pipeline  # a final failure's dead letter is written with its result
    pool.registry = registry  # a flow started from a job is checked against it (flows.start)
    pool.claim_in_batches(claim_policy(own))  # one Lua call claims what arq would, job by job
    # Claims are renewed until a job's timeout plus a grace; until it starts, the longest (arq's own claim).
    pool.running.grace_seconds = own.claim_grace_seconds
    longest = max((definition.timeout_seconds(own) for definition in registry), default=own.job_timeout)
    pool.running.bound_seconds = longest + own.claim_grace_seconds
    cron_jobs = [arq_cron(d, own) for d in registry.scheduled()] if priority == "default" else []
    attrs: dict[str, Any] = {
        "functions": [arq_function(definition, own) for definition in registry] or [_no_jobs_yet],
        "cron_jobs": cron_jobs,
        "timezone": dt.UTC,  # a schedule's wall clock is UTC unless its Cron names a zone
        "queue_name": own.queue_name,
        "redis_settings": worker_redis_settings(own),  # still what `arq ... --check` reads
        "redis_pool": pool,
        "job_serializer": tap.serialize,  # JSON, never pickle; notes final failures for dead letters
        "job_deserializer": deserialize,
        # The settings it was built with, not the environment's again: an in-process worker (the testing
        # kit, arqkit/testing.py) runs its jobs with the test's settings.
        "ctx": {
            RESULT_TAP: tap,
            "queue_name": own.queue_name,
            "settings": settings,
            hooks.LIFESPAN: lifespan,
            hooks.CRON_JOBS: cron_jobs,  # their missed ticks are caught up at startup
        },
        "on_startup": hooks.on_startup,
        "on_shutdown": hooks.on_shutdown,
        "on_job_start": hooks.on_job_start,
        "after_job_end": hooks.after_job_end,
        "max_tries": own.max_tries,
        "job_timeout": own.job_timeout,
        "keep_result": own.keep_result_seconds,
        "max_jobs": own.worker_max_jobs,  # async jobs mostly wait on I/O: many at once is cheap
        "poll_delay": own.worker_poll_delay_seconds,  # paces a busy worker only; idle ones are woken
        "job_completion_wait": own.job_completion_wait_seconds,  # SIGTERM lets running jobs finish
        "health_check_interval": 5,  # `arq ... --check` and /readyz see a dead worker within seconds
        # Per host, so `--check` in a pod (a liveness probe) answers for that pod's worker, not its pool.
        "health_check_key": keys.host_health_check(own.queue_name, worker_host()),
        "allow_abort_jobs": True,  # DELETE /jobs/{id} on a running job
    }
    return type("WorkerSettings", (), attrs)
