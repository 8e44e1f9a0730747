"""The dashboard chart's history in Redis: one point per interval whatever the number of API processes,
bounded, and there before any page opens."""

from __future__ import annotations

import httpx
import redis.asyncio

from arqkit import keys, throughput
from tests.service.settings import Settings
from tests.support import wait_for


async def test_two_processes_sampling_in_one_interval_keep_one_point(
    redis_client: redis.asyncio.Redis, settings: Settings
) -> None:
    hourly = settings.model_copy(
        update={"dashboard_sample_seconds": 3600.0, "dashboard_history_seconds": 7200}
    )

    await throughput.record(redis_client, hourly)
    await throughput.record(redis_client, hourly)

    assert len(await throughput.history(redis_client, hourly)) == 1


async def test_points_older_than_the_history_are_dropped_and_the_key_expires(
    redis_client: redis.asyncio.Redis, settings: Settings
) -> None:
    await redis_client.zadd(keys.THROUGHPUT, {'{"at_ms": 1, "queued": 0, "completed": 0, "failed": 0}': 1})

    await throughput.record(redis_client, settings)

    [point] = await throughput.history(redis_client, settings)
    assert point.at_ms > 1
    assert await redis_client.zcard(keys.THROUGHPUT) == 1
    assert 0 < await redis_client.pttl(keys.THROUGHPUT) <= settings.dashboard_history_seconds * 1000


async def test_the_api_samples_by_itself_so_the_history_is_there_before_anyone_looks(
    api: httpx.AsyncClient,
) -> None:
    async def points() -> list[dict[str, float]] | None:
        body: list[dict[str, float]] = (
            await api.get("/admin/throughput", headers={"Authorization": "Bearer test-admin-token"})
        ).json()
        return body or None

    [point] = await wait_for(points, what="the API's first sample")
    assert set(point) == {"at_ms", "queued", "completed", "failed"}
