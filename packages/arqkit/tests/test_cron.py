"""Cron jobs: registered, and each tick runs once however many workers there are."""

from __future__ import annotations

from collections.abc import Callable

import redis.asyncio

from tests.service.worker import WorkerSettings
from tests.support import PROCESS_START_SECONDS, WorkerProcess, wait_for
from tests.support.workers import TICKS


def test_daily_tick_and_hourly_tick_are_registered() -> None:
    cron_jobs = {c.name: c for c in WorkerSettings.cron_jobs}

    assert set(cron_jobs) == {"daily_tick", "hourly_tick"}
    assert cron_jobs["daily_tick"].hour == 7
    assert cron_jobs["hourly_tick"].minute == 0
    assert all(c.unique for c in cron_jobs.values())


async def test_each_tick_runs_once_with_two_workers(
    start_worker: Callable[..., WorkerProcess], redis_client: redis.asyncio.Redis
) -> None:
    start_worker("tests.support.workers.CronEverySecond")
    start_worker("tests.support.workers.CronEverySecond")

    async def ticks() -> dict[bytes, bytes] | None:
        seen: dict[bytes, bytes] = await redis_client.hgetall(TICKS)  # type: ignore[misc]
        return seen if len(seen) >= 4 else None

    seen = await wait_for(ticks, timeout=PROCESS_START_SECONDS, what="four cron ticks")
    assert all(count == b"1" for count in seen.values()), seen
