"""The queue: job functions, `WorkerSettings`, retry policy, dead letters, key names, the enqueue client.

`arq jobs.WorkerSettings` finds the settings here; they are built on first access so that importing
`jobs` (as the API does) reads no settings and registers nothing.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "WorkerSettings":
        from jobs.worker import WorkerSettings

        return WorkerSettings
    raise AttributeError(f"module 'jobs' has no attribute {name!r}")
