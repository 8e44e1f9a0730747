"""`GET /metrics` for Prometheus: the same cluster-wide numbers from whichever API process answers."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from arqkit import QueueUnavailable, priorities
from arqkit.web.deps import QueueAdminDep
from arqkit.web.openapi import UNAVAILABLE, plain_text
from arqkit.web.prometheus import Known, render

router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    response_class=Response,
    responses=plain_text(CONTENT_TYPE_LATEST, "Prometheus text.") | UNAVAILABLE,
)
async def prometheus_metrics(request: Request, admin: QueueAdminDep) -> Response:
    """Queue depth per queue, jobs by outcome, job and HTTP histograms (docs/observability.md). 200 with
    `redis_up 0` and the process metrics while Redis is away: an outage must not hide its own numbers."""
    try:
        snapshot = await admin.metrics_snapshot()
    except QueueUnavailable:
        snapshot = None
    return Response(render(snapshot, _known(request.app, admin)), media_type=CONTENT_TYPE_LATEST)


def _known(app: FastAPI, admin: QueueAdminDep) -> Known:
    """The series at 0 from the first scrape: made once per app, when every route is in (the first scrape)."""
    known: Known | None = getattr(app.state, "metrics_known", None)
    if known is None:
        functions = [definition.name for definition in admin.queue.registry]
        known = app.state.metrics_known = Known.of(functions, priorities.PRIORITIES, app.openapi())
    return known
