"""Welcome emails through the provider's HTTP API."""

from __future__ import annotations

from arqkit import job, rate_of, throttle

from jobs.context import Ctx


@job(max_tries=8)
async def send_welcome_email(ctx: Ctx, email: str, name: str) -> dict[str, str]:
    """POST to the provider. Idempotent: the provider dedups on `Idempotency-Key`, which is the job id."""
    await throttle(ctx, "email", rate_of(ctx.settings.email_rate_limit))  # the provider's limit, all workers
    response = await ctx.resources.http.post(
        ctx.settings.email_api_url,
        json={"to": email, "subject": f"Welcome, {name}!", "body": f"Hi {name}, thanks for signing up."},
        headers={"Idempotency-Key": ctx.job_id},
    )
    response.raise_for_status()  # 5xx/429: retried with backoff; other 4xx: dead letter at once
    return {"provider_id": str(response.json().get("id", ""))}
