"""Final failures grouped by function and error type: what an operator asks first ("what is breaking,
how often, since when?") instead of a flat list where one outage fills every row.

Grouped on read from the newest finished-as-failed tries the admin lists keep (`keys.recent_jobs`,
capped at `RECENT_JOBS_MAX`), so the cost is bounded whatever the number of dead letters.
"""

from __future__ import annotations

from pydantic import BaseModel
from redis.asyncio import Redis

from arqkit import keys
from arqkit.overview import RecentJob


class FailureGroup(BaseModel):
    function: str
    error_type: str
    count: int
    first_seen_ms: int
    last_seen_ms: int
    example: RecentJob  # the newest of the group, or the job searched for


class FailureGroupPage(BaseModel):
    items: list[FailureGroup]
    total: int  # groups (matching the search, if any)
    offset: int
    scanned: int  # failures grouped: the newest RECENT_JOBS_MAX


def _key(failure: RecentJob) -> tuple[str, str]:
    return failure.function, (failure.error or {}).get("type", "unknown")


def group(failures: list[RecentJob]) -> dict[tuple[str, str], FailureGroup]:
    """`failures` newest first; each group's example is its newest."""
    groups: dict[tuple[str, str], FailureGroup] = {}
    for failure in failures:
        found = groups.get(_key(failure))
        if found is None:
            groups[_key(failure)] = FailureGroup(
                function=failure.function,
                error_type=_key(failure)[1],
                count=1,
                first_seen_ms=failure.finished_at_ms,
                last_seen_ms=failure.finished_at_ms,
                example=failure,
            )
        else:
            found.count += 1
            found.first_seen_ms = failure.finished_at_ms
    return groups


async def page(redis: Redis, limit: int, offset: int, job_id: str | None = None) -> FailureGroupPage:
    """Groups, the most recently seen first. With `job_id`: the groups of the failures whose id contains
    it, each with that failure as its example."""
    raws = await redis.zrevrange(keys.recent_jobs("failed"), 0, -1)
    failures = [RecentJob.model_validate_json(raw) for raw in raws]
    groups = group(failures)
    if job_id is None:
        found = list(groups.values())
    else:
        matches = {_key(f): f for f in reversed(failures) if job_id in f.job_id}  # the newest match wins
        found = [groups[key].model_copy(update={"example": match}) for key, match in matches.items()]
    found.sort(key=lambda g: g.last_seen_ms, reverse=True)
    return FailureGroupPage(
        items=found[offset : offset + limit], total=len(found), offset=offset, scanned=len(failures)
    )
