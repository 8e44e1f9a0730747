"""Cron runs on UTC unless a job names its zone, and a tick missed while no worker ran is skipped or
caught up, as the job's Cron says."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio

from arqkit import Cron, Registry, build_worker_settings, job
from arqkit.job import AnyContext as Ctx
from tests.service.settings import Settings
from tests.support import WorkerProcess, wait_for
from tests.support.workers import TICKS


@job(cron=Cron(hour=7, minute=0))
async def at_seven(ctx: Ctx) -> None: ...


@job(cron=Cron(hour=7, minute=0, tz="Europe/Paris"))
async def at_seven_in_paris(ctx: Ctx) -> None: ...


@pytest.fixture
def local_time_in_tokyo() -> Iterator[None]:
    """The machine's local zone is not UTC (as on a developer's laptop)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Tokyo"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


def _next_tick(settings: Settings, definition: Any) -> dt.datetime:
    """The cron job's next run as arq's worker computes it: in `WorkerSettings.timezone`, else local."""
    worker_settings = build_worker_settings(settings, Registry([definition]))
    zone = worker_settings.__dict__.get("timezone") or dt.datetime.now().astimezone().tzinfo
    (cron_job,) = worker_settings.__dict__["cron_jobs"]
    cron_job.calculate_next(dt.datetime.now(tz=zone))
    assert cron_job.next_run is not None
    return cron_job.next_run  # type: ignore[no-any-return]


@pytest.mark.usefixtures("local_time_in_tokyo")
def test_a_cron_hour_is_utc_whatever_the_machines_zone(settings: Settings) -> None:
    tick = _next_tick(settings, at_seven).astimezone(dt.UTC)

    assert (tick.hour, tick.minute) == (7, 0)


@pytest.mark.usefixtures("local_time_in_tokyo")
def test_a_cron_job_may_name_its_own_zone(settings: Settings) -> None:
    tick = _next_tick(settings, at_seven_in_paris).astimezone(ZoneInfo("Europe/Paris"))

    assert (tick.hour, tick.minute) == (7, 0)


def test_an_unknown_zone_is_refused_where_the_job_is_declared() -> None:
    with pytest.raises(Exception, match="Mars/Olympus"):
        Cron(hour=7, tz="Mars/Olympus")


async def test_a_starting_worker_runs_the_last_missed_tick_once_when_the_job_catches_up(
    start_worker: Callable[..., WorkerProcess], redis_client: redis.asyncio.Redis
) -> None:
    """No worker ran at the top of this hour: the first to start runs that tick, the second does not."""
    now = dt.datetime.now(dt.UTC)
    last_hour = int(now.replace(minute=0, second=0, microsecond=123_456).timestamp() * 1000)
    caught_up = f"hourly_with_catch_up:{last_hour}"

    async def runs_of_the_missed_tick() -> bytes | None:
        return await redis_client.hget(TICKS, caught_up)  # type: ignore[misc,no-any-return]

    start_worker("tests.support.workers.CronCatchUp")
    await wait_for(runs_of_the_missed_tick, timeout=20, what="the caught-up tick")
    second = start_worker("tests.support.workers.CronCatchUp")

    async def second_started() -> bool:
        return "worker started" in second.log_text()  # logged once its startup (and catch-up) is done

    await wait_for(second_started, timeout=20, what="the second worker")

    ticks = await redis_client.hgetall(TICKS)  # type: ignore[misc]
    assert ticks[caught_up.encode()] == b"1"
    assert not any(key.startswith(b"hourly_without_catch_up:") for key in ticks if now.minute > 0)
