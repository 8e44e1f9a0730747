"""The dead-letter set: every final failure, kept until replayed or trimmed (not with the result's TTL)."""

from __future__ import annotations

import time
from typing import Any

import orjson
from pydantic import BaseModel
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from arqkit import keys, records

# A dead letter keeps this much of its traceback (the end): DEAD_LETTER_MAX (100,000) letters then take
# at most about 0.8 GB of tracebacks, usually far less (a typical one is 1-3 KB).
MAX_TRACEBACK_CHARS = 8192


class DeadLetter(BaseModel):
    job_id: str
    function: str
    queue: str
    args: list[Any]
    keyword_args: dict[str, Any]
    error: dict[str, str]
    tries: int
    enqueued_at_ms: int | None
    failed_at_ms: int
    request_id: str | None = None
    traceback: str | None = None  # admin only: never shown on the public job status


class DeadLetterPage(BaseModel):
    items: list[DeadLetter]
    next_cursor: str | None


async def record(redis: Redis, letter: DeadLetter, max_kept: int) -> None:
    """Add a final failure; the oldest letters beyond `max_kept` are dropped."""
    async with redis.pipeline(transaction=True) as pipe:
        add_to(pipe, letter)
        await pipe.execute()
    await trim(redis, max_kept)


def add_to(pipe: Pipeline, letter: DeadLetter) -> None:
    """Queue the writes of one letter on `pipe`, e.g. in the transaction that stores the job's result.
    Its traceback is cut to its last `MAX_TRACEBACK_CHARS` (the innermost frames, where it failed)."""
    if letter.traceback is not None and len(letter.traceback) > MAX_TRACEBACK_CHARS:
        cut = len(letter.traceback) - MAX_TRACEBACK_CHARS
        letter = letter.model_copy(
            update={"traceback": f"[{cut} characters cut]\n" + letter.traceback[-MAX_TRACEBACK_CHARS:]}
        )
    pipe.hset(keys.DEAD_LETTER_DATA, letter.job_id, letter.model_dump_json())
    pipe.zadd(keys.dead_letters_of(letter.queue), {letter.job_id: letter.failed_at_ms})
    pipe.zadd(keys.DEAD_LETTERS, {letter.job_id: letter.failed_at_ms})


async def trim(redis: Redis, max_kept: int) -> None:
    """Drop the oldest letters beyond `max_kept`."""
    size = await redis.zcard(keys.DEAD_LETTERS)
    if size > max_kept:
        oldest = await redis.zrange(keys.DEAD_LETTERS, 0, size - max_kept - 1)
        await _remove(redis, *(raw.decode() for raw in oldest))


async def _remove(redis: Redis, *job_ids: str) -> None:
    raws = await redis.hmget(keys.DEAD_LETTER_DATA, list(job_ids))  # type: ignore[misc]  # redis-py's union
    queues = {_queue_of(raw) for raw in raws if raw is not None}
    async with redis.pipeline(transaction=True) as pipe:
        pipe.zrem(keys.DEAD_LETTERS, *job_ids)
        for queue in queues:
            pipe.zrem(keys.dead_letters_of(queue), *job_ids)
        pipe.hdel(keys.DEAD_LETTER_DATA, *job_ids)
        await pipe.execute()


def _queue_of(raw: bytes) -> str:
    try:
        return str(orjson.loads(raw).get("queue", ""))
    except (orjson.JSONDecodeError, AttributeError):
        return ""


async def get(redis: Redis, job_id: str) -> DeadLetter | None:
    raw = await redis.hget(keys.DEAD_LETTER_DATA, job_id)  # type: ignore[misc]  # redis-py's union type
    return None if raw is None else records.model_or_none(DeadLetter, raw, keys.DEAD_LETTER_DATA)


def parse_all(raws: list[bytes | None]) -> list[DeadLetter]:
    """The letters among `raws` (HMGET replies); a missing or malformed one is skipped (and logged)."""
    letters = (
        records.model_or_none(DeadLetter, raw, keys.DEAD_LETTER_DATA) for raw in raws if raw is not None
    )
    return [letter for letter in letters if letter is not None]


CURSOR_PATTERN = r"^\d{1,16}-\d{1,9}$"


async def page(redis: Redis, limit: int, cursor: str | None) -> DeadLetterPage:
    """Newest first. The cursor `<failed_at_ms>-<n>` continues at that time, after the n letters of
    that same millisecond already shown, so neither new letters nor ties shift or skip a page."""
    upper, skip = ("+inf", 0) if cursor is None else (cursor.split("-")[0], int(cursor.split("-")[1]))
    rows = await redis.zrevrangebyscore(
        keys.DEAD_LETTERS, upper, "-inf", start=skip, num=limit + 1, withscores=True
    )
    shown = rows[:limit]
    raws = await redis.hmget(keys.DEAD_LETTER_DATA, [m for m, _ in shown]) if shown else []  # type: ignore[misc]
    items = parse_all(raws)
    next_cursor = None
    if len(rows) > limit:
        last = int(shown[-1][1])
        same = sum(1 for _, score in shown if int(score) == last)
        if cursor is not None and upper == str(last):
            same += skip
        next_cursor = f"{last}-{same}"
    return DeadLetterPage(items=items, next_cursor=next_cursor)


def window_bounds(since_seconds: int, until_ms: int | None) -> tuple[int, int]:
    """The letters that failed from `since_seconds` ago up to `until_ms` (default: now), in ms."""
    now_ms = int(time.time() * 1000)
    return now_ms - since_seconds * 1000, now_ms if until_ms is None else until_ms


async def ids_between(redis: Redis, from_ms: int, until_ms: int, limit: int) -> list[str]:
    """The oldest `limit` letters that failed in [from_ms, until_ms]."""
    rows = await redis.zrangebyscore(keys.DEAD_LETTERS, from_ms, until_ms, start=0, num=limit)
    return [raw.decode() for raw in rows]


async def count_between(redis: Redis, from_ms: int, until_ms: int) -> int:
    return int(await redis.zcount(keys.DEAD_LETTERS, from_ms, until_ms))


async def remove(redis: Redis, job_id: str) -> None:
    """A replayed letter leaves the set; the new job's `replay_of` links back to it."""
    await _remove(redis, job_id)


async def count(redis: Redis) -> int:
    return int(await redis.zcard(keys.DEAD_LETTERS))


async def count_by_queue(redis: Redis, queue_names: list[str]) -> dict[str, int]:
    """The dead letters of each queue (the queue the job was on when it failed)."""
    async with redis.pipeline(transaction=False) as pipe:
        for name in queue_names:
            pipe.zcard(keys.dead_letters_of(name))
        counts = await pipe.execute()
    return {name: int(n) for name, n in zip(queue_names, counts, strict=True)}


async def contains(redis: Redis, job_id: str) -> bool:
    return await redis.zscore(keys.DEAD_LETTERS, job_id) is not None
