"""The workers, one per queue: `arq jobs.WorkerSettings` serves the default queue (and fires the cron
jobs); `arq jobs.CriticalWorkerSettings` and `arq jobs.BulkWorkerSettings` serve the other priorities.

Each is the arq `WorkerSettings` class you know (functions, cron_jobs, max_tries, job_timeout, hooks...),
built from `jobs/registry.py`'s jobs, `settings.py` and the resources of `jobs/context.py`.
"""

from __future__ import annotations

from arqkit import build_worker_settings

from jobs.context import lifespan
from jobs.registry import REGISTRY
from settings import get_settings

WorkerSettings = build_worker_settings(get_settings(), REGISTRY, lifespan=lifespan)
CriticalWorkerSettings = build_worker_settings(get_settings(), REGISTRY, "critical", lifespan=lifespan)
BulkWorkerSettings = build_worker_settings(get_settings(), REGISTRY, "bulk", lifespan=lifespan)
