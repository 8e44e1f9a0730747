"""The fixture service's app: three producer routes and the package's (`QueueService`).
`uvicorn tests.service.app:app` (cwd packages/arqkit)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, FastAPI, Header, Path, Response, status
from fastapi_offline import FastAPIOffline
from pydantic import Field, StringConstraints

from arqkit import JobQueue
from arqkit.web import QueueService
from arqkit.web.deps import QueueDep
from arqkit.web.openapi import PRODUCER
from arqkit.web.rate_limit import RateLimit, RateLimitedQueue
from arqkit.web.schemas import MAX_SAFE_INTEGER, Accepted, StrictBody, accepted
from tests.service.jobs import charge, long_task, notify
from tests.service.registry import REGISTRY
from tests.service.settings import Settings, get_settings


class NotifyIn(StrictBody):
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+$", max_length=254)]
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class LongIn(StrictBody):
    owner: int = Field(gt=0, le=MAX_SAFE_INTEGER)
    label: str = Field(pattern=r"^[a-z0-9-]{1,20}$")


class ChargeIn(StrictBody):
    amount_cents: int = Field(gt=0, le=100_000_000)
    currency: str = Field(pattern=r"^[A-Z]{3}$")


router = APIRouter(tags=["producers"], responses=PRODUCER)
ChargeId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
IdempotencyKey = Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=255)]


@router.post("/notify", status_code=status.HTTP_202_ACCEPTED)
async def post_notify(
    body: NotifyIn, queue: Annotated[JobQueue, RateLimitedQueue("notify")], response: Response
) -> Accepted:
    return accepted(await queue.enqueue(notify, email=body.email, name=body.name), response)


@router.post("/long", status_code=status.HTTP_202_ACCEPTED)
async def post_long(
    body: LongIn, queue: Annotated[JobQueue, RateLimitedQueue("producers")], response: Response
) -> Accepted:
    return accepted(await queue.enqueue(long_task, owner=body.owner, label=body.label), response)


@router.post(
    "/charges/{charge_id}", status_code=status.HTTP_202_ACCEPTED, dependencies=[RateLimit("producers")]
)
async def post_charge(
    charge_id: ChargeId, body: ChargeIn, idempotency_key: IdempotencyKey, queue: QueueDep, response: Response
) -> Accepted:
    keyed = await queue.idempotent(f"charge:{charge_id}", idempotency_key, body.model_dump_json())
    job = await keyed.enqueue(
        charge, charge_id=charge_id, amount_cents=body.amount_cents, currency=body.currency
    )
    return accepted(job, response)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    limits = {"notify": settings.rate_limit_notify, "producers": settings.rate_limit_producers}
    service = QueueService(settings, REGISTRY, rate_limits=limits)
    app = FastAPIOffline(
        title="arqkit fixture service", lifespan=service.lifespan, telemetry=service.telemetry()
    )
    service.install(app)
    app.include_router(router)
    return app


app = create_app()
