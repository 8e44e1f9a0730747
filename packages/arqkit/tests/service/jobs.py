"""The fixture service's jobs, one per behaviour the package's tests lean on: a downstream HTTP call under
a throttle, a long job with progress and a concurrency slot, an idempotent side effect, two cron jobs,
unique jobs (while active, per window) and a per-key concurrency cap."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import orjson

from arqkit import (
    Cron,
    PerKey,
    PermanentError,
    TransientError,
    Unique,
    concurrency_slot,
    count_dead_letters,
    flows,
    job,
    rate_of,
    report_progress,
    throttle,
)
from tests.service import keys
from tests.service.context import Ctx


@job(max_tries=8)
async def notify(ctx: Ctx, email: str, name: str) -> dict[str, str]:
    """POST to the sink under the service-wide throttle; a 5xx or 429 is retried, another 4xx is final."""
    await throttle(ctx, "notify", rate_of(ctx.settings.notify_rate_limit))
    response = await ctx.resources.http.post(
        ctx.settings.sink_url,
        json={"to": email, "subject": f"Hello {name}", "body": "..."},
        headers={"Idempotency-Key": ctx.job_id},
    )
    response.raise_for_status()
    return {"provider_id": str(response.json().get("id", ""))}


@job(max_tries=3, timeout_seconds=600)
async def long_task(ctx: Ctx, owner: int, label: str) -> dict[str, str | int]:
    """`long_steps` steps, reporting progress after each, holding one of `long_max_concurrency` slots."""
    settings = ctx.settings
    async with concurrency_slot(ctx, "long_task", settings.long_max_concurrency):
        for step in range(settings.long_steps):
            await asyncio.sleep(settings.long_step_seconds)
            await report_progress(ctx, (step + 1) / settings.long_steps)
    return {"url": f"/out/{owner}/{label}", "rows": settings.long_steps * 100}


@job(max_tries=5, editable=False)  # a charge's amount is never changed by hand after the fact
async def charge(ctx: Ctx, charge_id: str, amount_cents: int, currency: str) -> dict[str, object]:
    """At most once per `charge_id`, however often it runs: the record is claimed with SET NX first."""
    record = {
        "charge_id": charge_id,
        "amount_cents": amount_cents,
        "currency": currency,
        "job_id": ctx.job_id,
    }
    record["charged_at"] = time.time()
    if await ctx.redis.set(keys.charge(charge_id), orjson.dumps(record), nx=True, ex=86_400):
        return {"charge": record, "already_charged": False}
    existing = orjson.loads(await ctx.redis.get(keys.charge(charge_id)))
    return {"charge": existing, "already_charged": True}


@job(max_tries=3, cron=Cron(hour=7, minute=0))
async def daily_tick(ctx: Ctx) -> dict[str, object]:
    day = dt.datetime.now(dt.UTC).date().isoformat()
    first = await ctx.redis.set(keys.daily(day), "1", nx=True, ex=86_400)
    return {"day": day, "first": bool(first)}


@job(max_tries=1, cron=Cron(minute=0))
async def hourly_tick(ctx: Ctx) -> dict[str, int]:
    return {"dead_letters": await count_dead_letters(ctx.redis)}


@job(max_tries=2)
async def record_step(
    ctx: Ctx, label: str, name: str, seconds: float = 0, gated: bool = False, fails: bool = False
) -> str:
    """A flow's step for the tests: logs `name` under `label` once it may finish (after `seconds`, once
    `flow_gate` exists if `gated`); with `fails`, a permanent error until `flow_fixed` exists."""
    while gated and not await ctx.redis.exists(keys.flow_gate(label)):
        await asyncio.sleep(0.02)
    await asyncio.sleep(seconds)
    if fails and not await ctx.redis.exists(keys.flow_fixed(label)):
        raise PermanentError(f"{name} failed")
    await ctx.redis.rpush(keys.flow_log(label), name)
    return name


@job(max_tries=2)
async def report_failures(ctx: Ctx, label: str) -> list[str]:
    """A flow's callback for the tests: logs the functions of the steps that failed before it."""
    failed = [f"{one.function}:{one.error['message']}" for one in await flows.failures(ctx)]
    await ctx.redis.rpush(keys.flow_log(label), "callback", *failed)
    return failed


@job(max_tries=2)
async def starts_a_flow(ctx: Ctx, label: str, unregistered: bool = False) -> str:
    """A job that starts a flow of its own (a chain of two `record_step`); returns the flow's id. With
    `unregistered`, its second step is `not_in_the_registry` (the start refuses it: `JobNotRegistered`)."""
    second = (
        flows.step(not_in_the_registry, label) if unregistered else flows.step(record_step, label, "second")
    )
    flow_id, _ = await flows.start(
        ctx.redis, ctx.settings, flows.chain(flows.step(record_step, label, "first"), second)
    )
    return flow_id


@job(max_tries=1)
async def not_in_the_registry(ctx: Ctx, label: str) -> None:
    """Never registered (`registry.py` leaves it out): a flow naming it must be refused at its start."""
    await ctx.redis.rpush(keys.flow_log(label), "unregistered")


@job(max_tries=3, unique=Unique("account_id"))
async def sync_account(ctx: Ctx, account_id: int, fail: bool = False, fail_first_try: bool = False) -> int:
    """One per account while queued or running. Counts its runs (`fail_first_try`: the first ends there,
    with a transient error), then waits for the test to release the account (`fail`: a permanent error)."""
    runs: int = await ctx.redis.hincrby(keys.runs(), ctx.job_id, 1)
    if fail_first_try and ctx.job_try == 1:
        raise TransientError("the CRM timed out")
    while not await ctx.redis.exists(keys.released(account_id)):
        await asyncio.sleep(0.02)
    if fail:
        raise PermanentError("the account is gone")
    return runs


@job(max_tries=1, unique=Unique("topic", for_seconds=2))
async def ping_topic(ctx: Ctx, topic: str, note: str = "") -> str:
    """At most one per topic every 2 s, however often it is asked for."""
    return topic


@job(max_tries=1, concurrency=PerKey("tenant_id", limit=1))
async def tenant_work(ctx: Ctx, tenant_id: str, seconds: float) -> None:
    """One at a time per tenant across all workers; records how many of its tenant's ran with it, and the
    order in which tenants' jobs finish."""
    running = keys.tenant_running(tenant_id)
    await ctx.redis.rpush(keys.tenant_seen(tenant_id), await ctx.redis.incr(running))
    try:
        await asyncio.sleep(seconds)
    finally:
        await ctx.redis.decr(running)
    await ctx.redis.rpush(keys.TENANTS_DONE, tenant_id)
