"""Each failed try's error with its traceback, for the admin API only (written by `jobs.metrics.flush`);
and the replay of a dead letter (who, when, the arguments before and after an edit).

The public `GET /jobs/{id}` shows an error's type and message and never reads this key: a traceback
tells an attacker about the code, its paths and sometimes its data.
"""

from __future__ import annotations

import traceback
from typing import Any

import structlog
from redis.asyncio import Redis

from arqkit import keys, records
from arqkit.replay_edits import ReplayRecord

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


# A replay's audit (replay_edits.ReplayRecord): in the letter's history, and in the new job's.
async def claim_replay(redis: Redis, record: ReplayRecord, keep_seconds: int) -> ReplayRecord | None:
    """Record the letter's replay unless one is recorded already: None when this one is the first,
    else the one that was (whose arguments the letter's job has, or will have)."""
    key = keys.replay_record(record.replay_of)
    for _ in range(2):  # the second time: the record expired between the SET and the GET
        if await redis.set(key, record.model_dump_json(), nx=True, ex=keep_seconds):
            return None
        raw = await redis.get(key)
        if raw is not None:  # unreadable (not ours to parse): the job's id still makes one job at most
            return records.model_or_none(ReplayRecord, raw, key) or record
    return record


async def record_origin(redis: Redis, record: ReplayRecord, keep_seconds: int) -> None:
    """The same record under the new job's id, so its detail says where it came from and who edited it."""
    await redis.set(keys.replay_origin(record.job_id), record.model_dump_json(), ex=keep_seconds)


async def replay_of(redis: Redis, letter_id: str) -> ReplayRecord | None:
    """The replay that followed the dead letter `letter_id`, if any."""
    return await _record(redis, keys.replay_record(letter_id))


async def origin_of(redis: Redis, job_id: str) -> ReplayRecord | None:
    """The replay that made the job `job_id`, if a replay did."""
    return await _record(redis, keys.replay_origin(job_id))


async def _record(redis: Redis, key: str) -> ReplayRecord | None:
    raw = await redis.get(key)
    return None if raw is None else records.model_or_none(ReplayRecord, raw, key)
