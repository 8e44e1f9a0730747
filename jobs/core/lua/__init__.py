"""Every Lua script the machinery runs, one `.lua` file each, read from disk once per process.

| script | run by | does |
|---|---|---|
| `enqueue.lua` | `internals/enqueue.py` | arq's enqueue (job key, queue entry) plus a wake-up token |
| `claim.lua` | `internals/batch_claim.py` | the queue read: claims a batch of due jobs as arq would |
| `ready.lua` | `internals/wakeup.py` | the queue read of a worker that claims job by job (arq's own claim) |
| `purge.lua` | `queue_control.py` | drops a batch of a queue's waiting jobs, never a running one |
| `cap_claims.lua` | `internals/claims.py` | caps the claims a killed worker left on due jobs |
| `sliding_window.lua` | `sliding_window.py` | one rate-limit decision (API and `throttle`) |
| `lease_acquire.lua`, `lease_renew.lua` | `capacity.py` | `concurrency_slot` leases |
| `sample.lua` | `throughput.py` | one point of the dashboard's throughput history per interval |
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

HERE = Path(__file__).resolve().parent


@cache
def source(name: str) -> str:
    """The text of `<name>.lua` (redis-py's `register_script` then runs it by its SHA)."""
    return (HERE / f"{name}.lua").read_text()
