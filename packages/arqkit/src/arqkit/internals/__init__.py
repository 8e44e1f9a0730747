"""The one door to arq and redis-py: the only package of the template that imports arq, and the only
code that relies on behaviour of arq or redis-py that is not their documented API.

Each module names the internal it relies on, and `tests/internals/` pins each one, so an upgrade
of either library fails there first (docs/arq-gaps.md lists them all):

| module | relies on |
|---|---|
| `worker.py` | arq reads `WorkerSettings` from the class `__dict__` only; `func`, `cron`, hook names |
| `layout.py` | arq's job and result payloads (`serialize_job`, `serialize_result` positional arguments) |
| `enqueue.py` | arq's enqueue layout: job key TTL, queue score, dedup on the job and result keys |
| `wakeup.py` | how arq's poll calls `zrangebyscore` on the worker's pool |
| `reconnect.py` | redis-py's `Pipeline` internals around WATCH; how it names error replies (`is_outage`) |
| `claims.py` | arq's in-progress key (its TTL) and retry counter |
| `claim_keeper.py` | arq's in-progress key, renewed from a thread; asyncio's Python-level signal handler |
| `process_pool.py` | `ProcessPoolExecutor._processes` (before Python 3.14's `terminate_workers`) |
| `batch_claim.py` | arq's claim and run_job commands, answered from one Lua call per batch |
| `transactions.py` | redis-py's `Pipeline._execute_transaction` (several transactions in one write) |
| `result_tap.py` | arq's result fields, read as they pass through the worker's serializer |
| `connection.py` | `ArqRedis`, `RedisSettings`: how both sides reach Redis |
| `sentinel.py` | `SentinelConnectionPool` (READONLY: reconnect); when `arq --check` reads `RedisSettings` |
| `burst.py` | `Worker(burst=True)`: when it returns, that `close()` runs `on_shutdown` (the testing kit) |
| `log_redaction.py` | arq's format strings for its job start and success log lines |
| `budget.py` | redis-py's `ConnectionPool.connection_class` and `get_connection` (the request budget) |
"""

from __future__ import annotations

from arq import Retry  # the one arq name the rest of the machinery raises (a deferral is a Retry)

__all__ = ["Retry"]
