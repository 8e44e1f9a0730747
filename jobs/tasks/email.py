"""Emails through the provider's HTTP API: the welcome email, an order's receipt (jobs/tasks/orders.py)."""

from __future__ import annotations

from arqkit import job, rate_of, throttle

from jobs.context import Ctx


@job(max_tries=8)
async def send_welcome_email(ctx: Ctx, email: str, name: str) -> dict[str, str]:
    """Idempotent: the provider dedups on `Idempotency-Key`, which is the job id (`send`)."""
    return await send(ctx, email, f"Welcome, {name}!", f"Hi {name}, thanks for signing up.")


@job(max_tries=8)
async def send_receipt(
    ctx: Ctx, order_id: str, email: str, amount_cents: int, currency: str
) -> dict[str, str]:
    """An order's receipt: a step of its fulfilment flow (jobs/tasks/orders.py)."""
    total = f"{amount_cents / 100:.2f} {currency}"
    return await send(ctx, email, f"Your receipt for order {order_id}", f"We charged {total}. Thank you!")


async def send(ctx: Ctx, to: str, subject: str, body: str) -> dict[str, str]:
    """POST to the provider. Idempotent: the provider dedups on `Idempotency-Key`, which is the job id."""
    await throttle(ctx, "email", rate_of(ctx.settings.email_rate_limit))  # the provider's limit, all workers
    response = await ctx.resources.http.post(
        ctx.settings.email_api_url,
        json={"to": to, "subject": subject, "body": body},
        headers={"Idempotency-Key": ctx.job_id},
    )
    response.raise_for_status()  # 5xx/429: retried with backoff; other 4xx: dead letter at once
    return {"provider_id": str(response.json().get("id", ""))}
