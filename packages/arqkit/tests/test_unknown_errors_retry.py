"""Issue 20, finding 3: an exception the retry policy does not know is retried with backoff up to
`max_tries`; only the permanent kinds (`PermanentError`, a downstream 4xx other than 408/429, validation)
fail at once into the dead letters."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pydantic
import pytest
import redis.asyncio

from arqkit import PermanentError, Registry, job
from arqkit.job import AnyContext as Ctx
from arqkit.testing import JobKit
from tests.service.context import lifespan
from tests.service.settings import Settings


def _http_error(status: int) -> httpx.HTTPStatusError:
    request = httpx.Request("POST", "http://provider/send")
    response = httpx.Response(status, request=request)
    return httpx.HTTPStatusError(f"{status}", request=request, response=response)


@job(max_tries=4)
async def fails_twice_with_a_runtime_error(ctx: Ctx) -> int:
    if ctx.job_try <= 2:
        raise RuntimeError("the image library crashed")
    return ctx.job_try


@job(max_tries=3)
async def always_raises_a_key_error(ctx: Ctx) -> None:
    raise KeyError("missing")


@job(max_tries=4)
async def raises_a_permanent_error(ctx: Ctx) -> None:
    raise PermanentError("the account is closed")


@job(max_tries=4)
async def gets_a_downstream_status(ctx: Ctx, status: int) -> int:
    if ctx.job_try == 1:
        raise _http_error(status)
    return ctx.job_try


class Thing(pydantic.BaseModel):
    size: int


@job(max_tries=4)
async def validates_what_it_read(ctx: Ctx) -> None:
    Thing.model_validate({"size": "big"})


REGISTRY = Registry(
    [
        fails_twice_with_a_runtime_error,
        always_raises_a_key_error,
        raises_a_permanent_error,
        gets_a_downstream_status,
        validates_what_it_read,
    ]
)


@pytest.fixture
async def kit(settings: Settings, redis_client: redis.asyncio.Redis) -> AsyncIterator[JobKit]:
    kit = JobKit(settings, REGISTRY, lifespan)
    yield kit
    await kit.aclose()


async def test_an_unknown_exception_is_retried_until_the_job_succeeds(kit: JobKit) -> None:
    run = await kit.run(fails_twice_with_a_runtime_error)

    assert (run.status, run.tries, run.result) == ("complete", 3, 3)
    assert [t["type"] for t in run.failed_tries] == ["RuntimeError", "RuntimeError"]


async def test_an_unknown_exception_on_every_try_is_dead_lettered_after_max_tries(kit: JobKit) -> None:
    run = await kit.run(always_raises_a_key_error)

    assert (run.status, run.tries) == ("failed", 3)
    assert run.dead_letter is not None
    assert run.dead_letter.error["type"] == "KeyError"


async def test_a_permanent_error_is_dead_lettered_after_one_try(kit: JobKit) -> None:
    run = await kit.run(raises_a_permanent_error)

    assert (run.status, run.tries) == ("failed", 1)
    assert run.dead_letter is not None


async def test_a_validation_error_is_dead_lettered_after_one_try(kit: JobKit) -> None:
    run = await kit.run(validates_what_it_read)

    assert (run.status, run.tries) == ("failed", 1)


@pytest.mark.parametrize("status", [400, 404, 422])
async def test_a_downstream_4xx_is_dead_lettered_after_one_try(kit: JobKit, status: int) -> None:
    run = await kit.run(gets_a_downstream_status, status=status)

    assert (run.status, run.tries) == ("failed", 1)


@pytest.mark.parametrize("status", [408, 429, 500, 503])
async def test_a_downstream_429_or_5xx_is_retried(kit: JobKit, status: int) -> None:
    run = await kit.run(gets_a_downstream_status, status=status)

    assert (run.status, run.tries) == ("complete", 2)
