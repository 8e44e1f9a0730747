"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from arqkit.web.deps import QueueAdminDep
from arqkit.web.openapi import READINESS

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process serves. No dependencies: a Redis outage must not get the API restarted."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None, responses=READINESS)
async def readyz(admin: QueueAdminDep) -> JSONResponse:
    """Ready when Redis answers and at least one worker's heartbeat is fresh; else 503 with the reasons.
    A queue whose jobs wait with no live worker is a warning in the body, not a 503: this API still
    serves (enqueues, statuses), and taking it out of its load balancer would not start a worker."""
    readiness = await admin.readiness()
    code = 200 if readiness.ready else 503
    return JSONResponse(readiness.model_dump(), status_code=code)
