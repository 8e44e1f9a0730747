"""A job's signature is its schema: arguments arrive as the declared types, a value that does not fit is
refused at enqueue with nothing written, and a stored payload that no longer fits is a dead letter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

import orjson
import pytest
import redis.asyncio
from pydantic import BaseModel, ConfigDict

from arqkit import JobArgumentsInvalid, PermanentError, Registry, RetryPolicy, job, keys, priorities
from arqkit.job import AnyContext as Ctx
from arqkit.testing import JobKit
from tests.service.settings import Settings

BROKEN = keys.PREFIX + "test:broken"  # while set, `typed_job` fails: a dead letter to replay


class Plan(StrEnum):
    FREE = "free"
    PRO = "pro"


class Order(BaseModel):
    order_id: UUID
    placed_at: datetime
    total: Decimal


WHEN = datetime(2026, 11, 30, 23, 59, 58, 123456, tzinfo=UTC)
EXPECTED: dict[str, Any] = {
    "order": Order(order_id=UUID(int=7), placed_at=WHEN, total=Decimal("19.90")),
    "when": WHEN,
    "day": date(2026, 2, 28),
    "customer": UUID("12345678-1234-5678-1234-567812345678"),
    "amount": Decimal("0.10"),
    "plan": Plan.PRO,
    "prices": [Decimal("1.10"), Decimal("2.20")],
    "orders_by_day": {"2026-11-30": [Order(order_id=UUID(int=8), placed_at=WHEN, total=Decimal("5"))]},
}


@job(max_tries=5)
async def typed_job(
    ctx: Ctx,
    order: Order,
    when: datetime,
    day: date,
    customer: UUID,
    amount: Decimal,
    plan: Plan,
    prices: list[Decimal],
    orders_by_day: dict[str, list[Order]],
) -> dict[str, list[Any]]:
    """Says, for each argument, the type it arrived as and whether it equals what the test sent."""
    if await ctx.redis.exists(BROKEN):
        raise PermanentError("broken on purpose")
    received = locals()
    return {name: [type(received[name]).__name__, received[name] == EXPECTED[name]] for name in EXPECTED}


@pytest.fixture
async def kit(settings: Settings, redis_client: redis.asyncio.Redis) -> AsyncIterator[JobKit]:
    kit = JobKit(settings, Registry([typed_job]))
    yield kit
    await kit.aclose()


@pytest.mark.parametrize(
    ("name", "declared"),
    [
        ("order", "Order"),
        ("when", "datetime"),
        ("day", "date"),
        ("customer", "UUID"),
        ("amount", "Decimal"),
        ("plan", "Plan"),
        ("prices", "list"),
        ("orders_by_day", "dict"),
    ],
)
async def test_an_argument_arrives_in_the_job_as_its_declared_type_and_value(
    kit: JobKit, name: str, declared: str
) -> None:
    run = await kit.run(typed_job, **EXPECTED)

    assert run.status == "complete", run.error
    assert run.result[name] == [declared, True]


async def test_lists_and_dicts_hold_the_declared_types_not_strings(kit: JobKit) -> None:
    @job()
    async def inspect_items(ctx: Ctx, prices: list[Decimal], by_day: dict[str, list[Order]]) -> list[str]:
        return [type(prices[0]).__name__, type(by_day["d"][0]).__name__, type(by_day["d"][0].total).__name__]

    kit.registry.add(inspect_items)
    order = EXPECTED["order"]

    run = await kit.run(inspect_items, prices=[Decimal("1.5")], by_day={"d": [order]})

    assert run.result == ["Decimal", "Order", "Decimal"]


class StrictOrder(BaseModel):
    model_config = ConfigDict(strict=True)

    placed_at: datetime
    total: Decimal


async def test_a_strict_model_round_trips_through_its_json(kit: JobKit) -> None:
    @job()
    async def take_strict(ctx: Ctx, order: StrictOrder) -> bool:
        return order == StrictOrder(placed_at=WHEN, total=Decimal("1.5"))

    kit.registry.add(take_strict)

    run = await kit.run(take_strict, order=StrictOrder(placed_at=WHEN, total=Decimal("1.5")))

    assert (run.status, run.result) == ("complete", True)


async def test_the_stored_payload_is_plain_json_with_exact_decimals(
    kit: JobKit, redis_client: redis.asyncio.Redis
) -> None:
    enqueued = await kit.queue.enqueue(typed_job, **EXPECTED)

    payload = orjson.loads(await redis_client.get(keys.job(enqueued.job_id)))

    assert payload["k"]["amount"] == "0.10"
    assert payload["k"]["when"] == "2026-11-30T23:59:58.123456Z"
    assert payload["k"]["order"]["order_id"] == str(UUID(int=7))
    assert payload["k"]["plan"] == "pro"


@pytest.mark.parametrize(
    ("change", "mentions"),
    [
        ({"when": "next tuesday"}, "when: Input should be a valid datetime"),
        ({"amount": "a lot"}, "amount: Input should be a valid decimal"),
        ({"plan": "enterprise"}, "plan: Input should be 'free' or 'pro'"),
        ({"order": {"order_id": "nope"}}, "order.order_id"),
        ({"prices": [Decimal(1), "x"]}, "prices.1"),
    ],
)
async def test_a_value_that_does_not_fit_is_refused_at_enqueue_and_nothing_is_written(
    kit: JobKit, redis_client: redis.asyncio.Redis, change: dict[str, Any], mentions: str
) -> None:
    with pytest.raises(JobArgumentsInvalid, match=mentions):
        await kit.queue.enqueue(typed_job, **{**EXPECTED, **change})

    assert await redis_client.dbsize() == 0


async def test_a_missing_argument_is_refused_at_enqueue(
    kit: JobKit, redis_client: redis.asyncio.Redis
) -> None:
    arguments = {k: v for k, v in EXPECTED.items() if k != "day"}

    with pytest.raises(JobArgumentsInvalid, match="missing a required argument: 'day'"):
        await kit.queue.enqueue(typed_job, **arguments)

    assert await redis_client.dbsize() == 0


async def test_a_wrong_type_is_a_mypy_error_and_at_run_time_a_named_error_before_any_write(
    kit: JobKit, redis_client: redis.asyncio.Redis
) -> None:
    """mypy (strict, warn_unused_ignores) fails this file if `enqueue` ever stops checking the types."""
    with pytest.raises(JobArgumentsInvalid, match="customer: Input should be a valid UUID"):
        await kit.queue.enqueue(typed_job, **{**EXPECTED, "customer": "c-42"})
    with pytest.raises(JobArgumentsInvalid, match="amount: Input should be a valid decimal"):
        await kit.queue.enqueue(
            typed_job,
            EXPECTED["order"],
            WHEN,
            date(2026, 1, 1),
            UUID(int=1),
            "ten",  # type: ignore[arg-type]
            Plan.FREE,
            [],
            {},
        )

    assert await redis_client.dbsize() == 0


async def test_an_integer_json_cannot_carry_is_refused_at_enqueue(
    kit: JobKit, redis_client: redis.asyncio.Redis
) -> None:
    @job()
    async def count_to(ctx: Ctx, n: int) -> None: ...

    with pytest.raises(JobArgumentsInvalid, match="not JSON"):
        await kit.queue.enqueue(count_to, n=2**64)

    assert await redis_client.dbsize() == 0


async def test_a_payload_that_no_longer_fits_the_signature_is_dead_lettered_at_once_saying_why(
    kit: JobKit, settings: Settings
) -> None:
    """As if the code changed under a queued job: its stored `when` is not a datetime any more."""
    _, stored = typed_job.arguments.encode([], EXPECTED)
    stale = {**stored, "when": "2026-13-45"}
    queue_name = priorities.queue_name(settings, "default")
    enqueued = await kit.queue.enqueue_named("typed_job", [], stale, queue_name)

    [run] = await kit.drain()

    assert run.job_id == enqueued.job_id
    assert (run.status, run.tries) == ("failed", 1)  # max_tries=5, but another try cannot help
    assert run.dead_letter is not None
    assert run.dead_letter.error["type"] == "JobPayloadInvalid"
    assert "no longer fit typed_job's signature: when:" in run.dead_letter.error["message"]


async def test_a_replayed_dead_letter_arrives_typed_again(
    kit: JobKit, redis_client: redis.asyncio.Redis
) -> None:
    await redis_client.set(BROKEN, 1)
    failed = await kit.run(typed_job, **EXPECTED)
    assert failed.status == "failed"
    await redis_client.delete(BROKEN)

    replayed = await kit.admin.replay(failed.job_id)
    [run] = await kit.drain()

    assert run.job_id == replayed.job_id
    assert run.status == "complete"
    assert all(equal for _, equal in run.result.values()), run.result


class RetriesEverything(RetryPolicy):
    def is_transient(self, exc: BaseException) -> bool:
        return True


@job(max_tries=5, policy=RetriesEverything(base_delay=0.01, max_delay=0.01))
async def patient_job(ctx: Ctx, when: datetime) -> str:
    return when.isoformat()


async def test_a_stale_payload_is_not_retried_even_by_a_policy_that_retries_everything(
    kit: JobKit, settings: Settings
) -> None:
    kit.registry.add(patient_job)
    await kit.queue.enqueue_named("patient_job", [], {"when": "yesterday"}, settings.queue_name)

    [run] = await kit.drain()

    assert (run.status, run.tries) == ("failed", 1)
    assert run.error is not None
    assert run.error.type == "JobPayloadInvalid"
