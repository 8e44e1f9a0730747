"""`GET /metrics` for Prometheus: the same cluster-wide numbers from whichever API process answers."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from api.deps import QueueDep
from api.metrics import render

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response)
async def prometheus_metrics(queue: QueueDep) -> Response:
    """Queue depth per queue, jobs by outcome, job and HTTP histograms (docs/observability.md)."""
    return Response(await render(queue.redis, queue.settings), media_type=CONTENT_TYPE_LATEST)
