"""Each failed try's error with its traceback, for the admin API only (written by `jobs.metrics.flush`).

The public `GET /jobs/{id}` shows an error's type and message and never reads this key: a traceback
tells an attacker about the code, its paths and sometimes its data.
"""

from __future__ import annotations

import traceback
from typing import Any

import orjson
from redis.asyncio import Redis

from jobs.core import keys

MAX_TRACEBACK_CHARS = 20_000


def traceback_of(exc: BaseException) -> str:
    text = "".join(traceback.format_exception(exc))
    return text if len(text) <= MAX_TRACEBACK_CHARS else "...\n" + text[-MAX_TRACEBACK_CHARS:]


async def read(redis: Redis, job_id: str) -> list[dict[str, Any]]:
    """Every recorded failed try of the job, first try first."""
    raw: dict[bytes, bytes] = await redis.hgetall(keys.job_errors(job_id))  # type: ignore[misc]
    return sorted((orjson.loads(value) for value in raw.values()), key=lambda entry: int(entry["try"]))
