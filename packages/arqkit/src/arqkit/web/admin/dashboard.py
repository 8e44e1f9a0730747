"""The `/admin` dashboard: a login that sets the session cookie, the page, and its live feed (SSE).

The page is plain HTML, JS and CSS from `static/` here (no build step, no CDN). It calls the same admin
API as any other client; the browser authenticates with the session cookie instead of the bearer token.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, Field

from arqkit import QueueUnavailable
from arqkit.web import session
from arqkit.web.admin_guard import refuse_cross_origin_write
from arqkit.web.deps import AdminDep, AdminSessionsDep, AuthThrottleDep, QueueAdminDep, SettingsDep, is_admin
from arqkit.web.openapi import FORBIDDEN, RATE_LIMITED, UNAUTHORIZED, UNAVAILABLE, WITH_BODY, event_stream

STATIC_DIR = Path(__file__).resolve().parent / "static"
# The pages load only their own files: no inline script, no third-party origin, no framing.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}

# An event stream ends after this long and the browser reconnects at once: a server shutting down
# (which waits for open responses) never waits longer than this for an open dashboard.
STREAM_SECONDS = 15.0

router = APIRouter(prefix="/admin", tags=["admin"])
log = structlog.get_logger("api.dashboard")


class Login(BaseModel):
    token: str = Field(min_length=1, max_length=1024)


@router.get("", include_in_schema=False)
async def dashboard(authenticated: Annotated[bool, Depends(is_admin)]) -> FileResponse:
    """The dashboard for a signed-in browser, else the login form (which shows no data)."""
    page = "dashboard.html" if authenticated else "login.html"
    return FileResponse(STATIC_DIR / page, media_type="text/html", headers=PAGE_HEADERS)


@router.post(
    "/session",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=UNAUTHORIZED | WITH_BODY | RATE_LIMITED | UNAVAILABLE,
)
async def log_in(
    body: Login,
    request: Request,
    response: Response,
    settings: SettingsDep,
    sessions: AdminSessionsDep,
    throttle: AuthThrottleDep,
) -> None:
    """Trade the admin token for a signed, HttpOnly session cookie (the token never goes in a URL).
    Wrong tokens are throttled per client address."""
    await throttle.refuse_if_throttled(request)
    if not session.token_matches(settings, body.token):
        await throttle.record_failure(request)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong admin token")
    await sessions.open(response)


@router.delete("/session", status_code=status.HTTP_204_NO_CONTENT, responses=FORBIDDEN | UNAVAILABLE)
async def log_out(request: Request, response: Response, sessions: AdminSessionsDep) -> None:
    """End the session on the server too: a copy of the cookie stops working now."""
    refuse_cross_origin_write(request)
    await sessions.close(request.cookies.get(session.COOKIE_NAME), response)


@router.get(
    "/events",
    dependencies=[AdminDep],
    response_class=StreamingResponse,
    responses=event_stream("A `snapshot` event per refresh.") | UNAUTHORIZED,
)
async def events(request: Request, admin: QueueAdminDep, settings: SettingsDep) -> StreamingResponse:
    """Server-sent events: a `snapshot` every `DASHBOARD_REFRESH_SECONDS` while the page is open."""

    async def stream() -> AsyncIterator[str]:
        yield "retry: 500\n\n"  # reconnect half a second after the stream ends
        ends = time.monotonic() + STREAM_SECONDS
        while time.monotonic() < ends and not await request.is_disconnected():
            try:
                snapshot = await admin.snapshot()
                yield f"event: snapshot\ndata: {snapshot.model_dump_json(by_alias=True)}\n\n"
            except QueueUnavailable:
                log.warning("dashboard snapshot failed", exc_info=True)
                yield 'event: unavailable\ndata: {"detail": "the job queue is unavailable"}\n\n'
            await asyncio.sleep(settings.dashboard_refresh_seconds)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}  # no proxy buffering
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)
