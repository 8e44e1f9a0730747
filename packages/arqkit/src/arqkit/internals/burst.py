"""A real arq worker in this process, run until its queue is empty: what the testing kit drives.

It relies on arq's `Worker(burst=True)`: `main()` returns once the queue's sorted set is empty and the
jobs it started are done. A retried job waits in that set with a later score, so a burst also runs
retries. `close()` runs `on_shutdown`, which writes the dead letters this worker noted. With
`handle_signals=False` the worker leaves the test process's signal handlers alone.
`tests/internals/test_burst.py` pins each of these.
"""

from __future__ import annotations

import warnings
from typing import Any

from arq.worker import Worker


async def run_until_empty(worker_settings: type, **overrides: Any) -> None:
    """Run the worker `worker_settings` describes (a `build_worker_settings` class) until its queue is
    empty; `overrides` replace its settings (e.g. `cron_jobs=[]`)."""
    options = {name: value for name, value in vars(worker_settings).items() if not name.startswith("__")}
    worker = Worker(**{**options, **overrides, "burst": True, "handle_signals": False})
    try:
        await worker.main()
    finally:
        with warnings.catch_warnings():  # arq's close calls redis-py's deprecated `close()`
            warnings.filterwarnings("ignore", "Call to deprecated close", DeprecationWarning)
            await worker.close()
