"""`GET /metrics` for Prometheus: the same cluster-wide numbers from whichever API process answers."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from api.core.deps import QueueAdminDep
from api.core.openapi import UNAVAILABLE, plain_text
from api.core.prometheus import render

router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    response_class=Response,
    responses=plain_text(CONTENT_TYPE_LATEST, "Prometheus text.") | UNAVAILABLE,
)
async def prometheus_metrics(admin: QueueAdminDep) -> Response:
    """Queue depth per queue, jobs by outcome, job and HTTP histograms (docs/observability.md)."""
    return Response(render(await admin.metrics_snapshot()), media_type=CONTENT_TYPE_LATEST)
