"""`GET /metrics` for Prometheus: the same cluster-wide numbers from whichever API process answers."""

from __future__ import annotations

import hmac
import ipaddress
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST

from arqkit import QueueUnavailable, priorities
from arqkit.web.deps import QueueAdminDep, SettingsDep
from arqkit.web.openapi import METRICS_GUARD, UNAVAILABLE, plain_text
from arqkit.web.prometheus import Known, render
from arqkit.web.rate_limit import ApiRateLimiter

router = APIRouter(tags=["health"])
_bearer = HTTPBearer(auto_error=False)


async def scraper_allowed(
    request: Request,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Open while METRICS_TOKEN and METRICS_ALLOWED_NETWORKS are both unset; else the token, or a client
    address in one of the networks (through TRUSTED_PROXIES, as the rate limits see it)."""
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
    networks = settings.metrics_allowed_networks
    if not token and not networks:
        return
    if (
        token
        and credentials is not None
        and hmac.compare_digest(credentials.credentials.encode(), token.encode())
    ):
        return
    if networks:
        limiter: ApiRateLimiter = request.app.state.rate_limiter
        try:
            address = ipaddress.ip_address(limiter.client_address(request))
        except ValueError:
            address = None
        if address is not None and any(address in ipaddress.ip_network(n, strict=False) for n in networks):
            return
    if token:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "a metrics token is required", {"WWW-Authenticate": "Bearer"}
        )
    raise HTTPException(status.HTTP_403_FORBIDDEN, "metrics are not served to this address")


@router.get(
    "/metrics",
    response_class=Response,
    dependencies=[Depends(scraper_allowed)],
    responses=plain_text(CONTENT_TYPE_LATEST, "Prometheus text.") | UNAVAILABLE | METRICS_GUARD,
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
