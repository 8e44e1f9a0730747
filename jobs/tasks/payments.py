"""Charging a payment: the side effect happens at most once per payment, even if the job runs twice."""

from __future__ import annotations

import time

import orjson
from arqkit import job

from jobs import keys
from jobs.context import Ctx

CHARGE_RECORD_TTL_SECONDS = 90 * 86_400


@job(max_tries=5, editable=False)  # an operator replays a failed charge as it was, never with another amount
async def charge_payment(ctx: Ctx, payment_id: str, amount_cents: int, currency: str) -> dict[str, object]:
    """Claim the payment's charge record first (SET NX); a second run finds it and charges nothing.

    With a real provider, pass the payment id as its idempotency key as well, so a crash between the
    provider call and the record cannot charge twice.
    """
    record = {
        "payment_id": payment_id,
        "amount_cents": amount_cents,
        "currency": currency,
        "job_id": ctx.job_id,
        "charged_at": time.time(),
    }
    key = keys.payment_charge(payment_id)
    claimed = await ctx.redis.set(key, orjson.dumps(record), nx=True, ex=CHARGE_RECORD_TTL_SECONDS)
    if not claimed:
        existing = orjson.loads(await ctx.redis.get(key))
        return {"charge": existing, "already_charged": True}
    return {"charge": record, "already_charged": False}
