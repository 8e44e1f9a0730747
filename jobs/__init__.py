"""Your jobs: one module per area (`email.py`, `reports.py`, `payments.py`, `cron.py`), the list of them
(`registry.py`) and the workers (`worker.py`). The machinery they use is `arqkit`.

`arq jobs.WorkerSettings` finds the settings here; they are built on first access so that importing
`jobs` (as the API does) reads no settings.
"""

from __future__ import annotations

from typing import Any

WORKER_SETTINGS = ("WorkerSettings", "CriticalWorkerSettings", "BulkWorkerSettings")  # one per priority


def __getattr__(name: str) -> Any:
    if name in WORKER_SETTINGS:
        from jobs import worker

        return getattr(worker, name)
    raise AttributeError(f"module 'jobs' has no attribute {name!r}")
