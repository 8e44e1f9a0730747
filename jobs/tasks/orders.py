"""An order's fulfilment, a flow (api/routes/producers.py): charge, then the receipt (jobs/tasks/email.py) and
the invoice at once, then the order marked fulfilled. Each step is an ordinary job, idempotent on its own."""

from __future__ import annotations

import time

import orjson
from arqkit import job

from jobs import keys
from jobs.context import Ctx

ORDER_RECORD_TTL_SECONDS = 90 * 86_400


@job(max_tries=5)
async def create_invoice(ctx: Ctx, order_id: str, amount_cents: int, currency: str) -> dict[str, object]:
    """Written once (SET NX): a second run answers the invoice the first one wrote."""
    invoice = {"order_id": order_id, "amount_cents": amount_cents, "currency": currency, "at": time.time()}
    key = keys.invoice(order_id)
    if not await ctx.redis.set(key, orjson.dumps(invoice), nx=True, ex=ORDER_RECORD_TTL_SECONDS):
        invoice = orjson.loads(await ctx.redis.get(key))
    return {"invoice": invoice}


@job(max_tries=5)
async def mark_fulfilled(ctx: Ctx, order_id: str) -> dict[str, object]:
    """The flow's last step: runs only once the receipt and the invoice both succeeded."""
    record = {"order_id": order_id, "fulfilled_at": time.time()}
    await ctx.redis.set(
        keys.order_fulfilled(order_id), orjson.dumps(record), nx=True, ex=ORDER_RECORD_TTL_SECONDS
    )
    return record
