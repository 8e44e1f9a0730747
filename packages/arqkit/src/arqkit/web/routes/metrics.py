"""`GET /metrics` for Prometheus: the same cluster-wide numbers from whichever API process answers."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from arqkit import QueueUnavailable
from arqkit.web.deps import QueueAdminDep
from arqkit.web.openapi import UNAVAILABLE, plain_text
from arqkit.web.prometheus import render

router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    response_class=Response,
    responses=plain_text(CONTENT_TYPE_LATEST, "Prometheus text.") | UNAVAILABLE,
)
async def prometheus_metrics(admin: QueueAdminDep) -> Response:
    """Queue depth per queue, jobs by outcome, job and HTTP histograms (docs/observability.md). 200 with
    `redis_up 0` and the process metrics while Redis is away: an outage must not hide its own numbers."""
    try:
        snapshot = await admin.metrics_snapshot()
    except QueueUnavailable:
        snapshot = None
    return Response(render(snapshot), media_type=CONTENT_TYPE_LATEST)
