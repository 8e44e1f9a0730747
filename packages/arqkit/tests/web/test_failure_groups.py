"""Final failures grouped by function and error type, as the admin API and the dashboard show them."""

from __future__ import annotations

import httpx
import redis.asyncio

from arqkit import metrics
from tests.service.settings import Settings

AUTH = {"Authorization": "Bearer test-admin-token"}


async def fail(
    redis_client: redis.asyncio.Redis, settings: Settings, job_id: str, function: str, error: str, at_ms: int
) -> None:
    """A final failure as the worker's after-job hook records it (through the metrics flush)."""
    batch = metrics.MetricsBatch()
    summary = {
        "job_id": job_id,
        "function": function,
        "queue": "arq:queue",
        "status": "failed",
        "try": 1,
        "finished_at_ms": at_ms,
        "duration_s": 0.1,
        "error": {"type": error, "message": f"{error} happened\nFor more information check: https://x"},
    }
    batch.finished("failed", summary, at_ms)
    await metrics.flush(batch, redis_client, settings)


async def test_failures_are_counted_per_function_and_error_type_with_first_and_last_seen(
    api: httpx.AsyncClient, redis_client: redis.asyncio.Redis, settings: Settings
) -> None:
    await fail(redis_client, settings, "a1", "notify", "HTTPStatusError", 1_000)
    await fail(redis_client, settings, "a2", "notify", "HTTPStatusError", 3_000)
    await fail(redis_client, settings, "b1", "notify", "ValidationError", 2_000)
    await fail(redis_client, settings, "c1", "long_task", "HTTPStatusError", 4_000)

    body = (await api.get("/admin/failures", headers=AUTH)).json()

    fields = ("function", "error_type", "count", "first_seen_ms", "last_seen_ms")
    rows = [tuple(group[field] for field in fields) for group in body["items"]]
    assert rows == [
        ("long_task", "HTTPStatusError", 1, 4_000, 4_000),
        ("notify", "HTTPStatusError", 2, 1_000, 3_000),
        ("notify", "ValidationError", 1, 2_000, 2_000),
    ]
    assert body["items"][1]["example"]["job_id"] == "a2"  # the newest of its group
    assert body["total"] == 3


async def test_groups_page_with_limit_and_offset(
    api: httpx.AsyncClient, redis_client: redis.asyncio.Redis, settings: Settings
) -> None:
    for n in range(5):
        await fail(redis_client, settings, f"j{n}", f"job_{n}", "Boom", 1_000 + n)

    second = (await api.get("/admin/failures", params={"limit": 2, "offset": 2}, headers=AUTH)).json()

    assert [g["function"] for g in second["items"]] == ["job_2", "job_1"]
    assert second["total"] == 5


async def test_a_search_by_job_id_finds_its_group_with_that_job_as_the_example(
    api: httpx.AsyncClient, redis_client: redis.asyncio.Redis, settings: Settings
) -> None:
    await fail(redis_client, settings, "old-5f3a", "notify", "HTTPStatusError", 1_000)
    await fail(redis_client, settings, "new-91bc", "notify", "HTTPStatusError", 2_000)
    await fail(redis_client, settings, "other-77", "long_task", "Boom", 3_000)

    body = (await api.get("/admin/failures", params={"job_id": "5f3a"}, headers=AUTH)).json()

    [found] = body["items"]
    assert (found["function"], found["count"]) == ("notify", 2)
    assert found["example"]["job_id"] == "old-5f3a"


async def test_failure_groups_need_the_admin_token(api: httpx.AsyncClient) -> None:
    assert (await api.get("/admin/failures")).status_code == 401
