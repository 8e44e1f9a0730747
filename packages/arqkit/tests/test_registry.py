"""A job is one function with its policy on `@job`, registered once in one list; cron is part of it."""

from __future__ import annotations

import pytest

import tests.service.worker as service
from arqkit import Cron, DuplicateJobName, Registry, build_worker_settings, job
from arqkit.internals.burst import run_until_empty
from arqkit.job import AnyContext as Ctx
from tests.service.jobs import daily_tick, notify
from tests.service.registry import REGISTRY
from tests.service.settings import Settings


@job(max_tries=2, cron=Cron(minute={0, 30}))
async def half_hourly(ctx: Ctx) -> None:
    """A scheduled job declared in one place."""


async def notify_again(ctx: Ctx) -> None:
    """Another function that would take the name `notify`."""


def test_a_name_registered_twice_is_refused() -> None:
    duplicate = job()(notify_again)
    duplicate.name = "notify"

    with pytest.raises(DuplicateJobName, match="notify"):
        Registry([notify, duplicate])


def test_the_same_job_listed_twice_is_refused() -> None:
    with pytest.raises(DuplicateJobName):
        Registry([notify, notify])


def test_a_cron_job_takes_its_schedule_and_tries_from_its_decorator() -> None:
    worker_settings = build_worker_settings(Settings(), Registry([half_hourly]))

    (scheduled,) = vars(worker_settings)["cron_jobs"]
    assert scheduled.name == "half_hourly"
    assert scheduled.minute == {0, 30}
    assert scheduled.max_tries == 2
    assert scheduled.unique
    assert [f.name for f in vars(worker_settings)["functions"]] == ["half_hourly"]


def test_the_services_cron_jobs_come_from_the_registry_with_their_own_policy() -> None:
    by_name = {c.name: c for c in service.WorkerSettings.cron_jobs}

    assert set(by_name) == {d.name for d in REGISTRY.scheduled()} == {"daily_tick", "hourly_tick"}
    assert by_name["daily_tick"].max_tries == daily_tick.max_tries(Settings()) == 3
    assert (by_name["daily_tick"].hour, by_name["daily_tick"].minute) == (7, 0)


def test_only_the_default_queue_fires_cron() -> None:
    assert service.CriticalWorkerSettings.cron_jobs == []
    assert service.BulkWorkerSettings.cron_jobs == []


class NotJson:
    """A type pydantic has no schema for: it cannot travel in a JSON payload."""


async def takes_a_client(ctx: Ctx, client: NotJson) -> None:
    """A job whose argument could never be enqueued."""


def test_a_job_whose_argument_json_cannot_carry_is_refused_at_registration() -> None:
    with pytest.raises(TypeError, match="parameter 'client' has a type JSON cannot carry"):
        Registry([job()(takes_a_client)])


async def test_a_worker_of_an_empty_registry_starts_and_runs(settings: Settings) -> None:
    """A service that deleted the examples and has no job yet still runs its workers (arq alone refuses)."""
    await run_until_empty(build_worker_settings(settings, Registry([])), cron_jobs=[])
