"""`arq tests.service.worker.WorkerSettings` (cwd packages/arqkit): the default queue and the cron jobs;
`CriticalWorkerSettings` and `BulkWorkerSettings` serve the other priorities."""

from __future__ import annotations

from arqkit import build_worker_settings
from tests.service.context import lifespan
from tests.service.registry import REGISTRY
from tests.service.settings import get_settings

WorkerSettings = build_worker_settings(get_settings(), REGISTRY, lifespan=lifespan)
CriticalWorkerSettings = build_worker_settings(get_settings(), REGISTRY, "critical", lifespan=lifespan)
BulkWorkerSettings = build_worker_settings(get_settings(), REGISTRY, "bulk", lifespan=lifespan)
