"""The workers: `arq jobs.WorkerSettings` serves the default queue (and fires the cron jobs);
`arq jobs.CriticalWorkerSettings` and `arq jobs.BulkWorkerSettings` serve the other priorities.

Every setting comes from `settings.py` (the environment); every job from `jobs/registry.py`.
"""

from __future__ import annotations

from arqkit import build_worker_settings

from jobs.registry import REGISTRY
from settings import get_settings

WorkerSettings = build_worker_settings(get_settings(), REGISTRY)
CriticalWorkerSettings = build_worker_settings(get_settings(), REGISTRY, priority="critical")
BulkWorkerSettings = build_worker_settings(get_settings(), REGISTRY, priority="bulk")
