"""Your jobs, one module per area: each an `@job(...)` function (list it in `jobs/registry.py`).

The modules beside this package are the wiring: `context.py` (the worker's resources), `keys.py` (your
Redis keys), `registry.py` (which jobs exist), `worker.py` (arq's WorkerSettings), `__main__.py` (the CLI).
The ones here are examples to copy from, then delete (README "Removing the examples").
"""
