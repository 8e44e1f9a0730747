"""Each failed try's error with its traceback, for the admin API only (written by `jobs.metrics.flush`).

The public `GET /jobs/{id}` shows an error's type and message and never reads this key: a traceback
tells an attacker about the code, its paths and sometimes its data.
"""

from __future__ import annotations

import traceback
from typing import Any

import structlog
from redis.asyncio import Redis

from arqkit import keys, records

log = structlog.get_logger("jobs.history")

MAX_TRACEBACK_CHARS = 20_000


def traceback_of(exc: BaseException) -> str:
    text = "".join(traceback.format_exception(exc))
    return text if len(text) <= MAX_TRACEBACK_CHARS else "...\n" + text[-MAX_TRACEBACK_CHARS:]


async def read(redis: Redis, job_id: str) -> list[dict[str, Any]]:
    """Every recorded failed try of the job, first try first."""
    key = keys.job_errors(job_id)
    raw: dict[bytes, bytes] = await redis.hgetall(key)  # type: ignore[misc]
    entries = [records.json_or_none(value, key) for value in raw.values()]
    tried = [entry for entry in entries if isinstance(entry, dict) and isinstance(entry.get("try"), int)]
    if len(tried) < len(entries):
        log.warning("skipped malformed failed tries", key=key, skipped=len(entries) - len(tried))
    return sorted(tried, key=lambda entry: int(entry["try"]))
