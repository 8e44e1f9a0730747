"""Producers: validate, enqueue on the shared pool, answer 202 with where to look."""

from __future__ import annotations

from typing import Annotated

from arqkit import JobQueue
from arqkit.flows import chain, group, step
from arqkit.web.deps import IdempotentQueue, QueueDep
from arqkit.web.openapi import PRODUCER
from arqkit.web.rate_limit import RateLimit, RateLimitedQueue
from arqkit.web.schemas import MAX_SAFE_INTEGER, Accepted, accepted
from fastapi import APIRouter, Header, Path, Response, status

from api.schemas import ChargeIn, FulfilIn, ReportIn, SignupIn
from jobs.tasks.email import send_receipt, send_welcome_email
from jobs.tasks.orders import create_invoice, mark_fulfilled
from jobs.tasks.payments import charge_payment
from jobs.tasks.reports import generate_report
from jobs.tasks.users import sync_user

router = APIRouter(tags=["producers"], responses=PRODUCER)

IdempotencyKey = Annotated[
    str, Header(alias="Idempotency-Key", min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$")
]
PaymentId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
OrderId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


UserId = Annotated[int, Path(gt=0, le=MAX_SAFE_INTEGER)]
# The queue, its enqueue rate-limited in the same Redis call (one round trip per request); with an
# optional Idempotency-Key, a retry answers with the job the first request wrote (two round trips).
SignupQueue = Annotated[JobQueue, IdempotentQueue(RateLimitedQueue("signup"))]
ProducerQueue = Annotated[JobQueue, IdempotentQueue(RateLimitedQueue("producers"))]


@router.post("/signup", status_code=status.HTTP_202_ACCEPTED)
async def signup(body: SignupIn, queue: SignupQueue, response: Response) -> Accepted:
    job = await queue.enqueue(send_welcome_email, email=str(body.email), name=body.name)
    return accepted(job, response)


@router.post("/reports", status_code=status.HTTP_202_ACCEPTED)
async def request_report(body: ReportIn, queue: ProducerQueue, response: Response) -> Accepted:
    job = await queue.enqueue(generate_report, user_id=body.user_id, month=body.month)
    return accepted(job, response)


@router.post(
    "/payments/{payment_id}/charge",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[RateLimit("producers")],
)
async def charge(
    payment_id: PaymentId,
    body: ChargeIn,
    idempotency_key: IdempotencyKey,
    queue: QueueDep,
    response: Response,
) -> Accepted:
    """The same Idempotency-Key always answers with the same job; with a different body it is a 422.
    Its rate limit is a round trip of its own, before the key is recorded: a refused charge records
    nothing, so its key stays free for any body."""
    keyed = await queue.idempotent(f"charge:{payment_id}", idempotency_key, body.model_dump_json())
    job = await keyed.enqueue(
        charge_payment, payment_id=payment_id, amount_cents=body.amount_cents, currency=body.currency
    )
    return accepted(job, response)


@router.post(
    "/orders/{order_id}/fulfil", status_code=status.HTTP_202_ACCEPTED, dependencies=[RateLimit("producers")]
)
async def fulfil(order_id: OrderId, body: FulfilIn, queue: QueueDep, response: Response) -> Accepted:
    """A flow: charge, then the receipt and the invoice at once, then mark the order fulfilled once both
    succeeded. `GET /jobs/{job_id}` shows each step. The same order answers the same flow."""
    cents, currency, email = body.amount_cents, body.currency, str(body.email)
    flow = chain(
        step(charge_payment, payment_id=f"order-{order_id}", amount_cents=cents, currency=currency),
        group(
            step(send_receipt, order_id=order_id, email=email, amount_cents=cents, currency=currency),
            step(create_invoice, order_id=order_id, amount_cents=cents, currency=currency),
        ),
        step(mark_fulfilled, order_id=order_id),
    )
    return accepted(await queue.enqueue_flow(flow, key=f"order:{order_id}"), response)


@router.post("/users/{user_id}/sync", status_code=status.HTTP_202_ACCEPTED)
async def sync(user_id: UserId, queue: ProducerQueue, response: Response) -> Accepted:
    """While this user's sync is queued or running, the answer is that job (`sync_user` is unique)."""
    return accepted(await queue.enqueue(sync_user, user_id=user_id), response)
