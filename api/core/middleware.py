"""Pure ASGI middleware (no BaseHTTPMiddleware: it buffers and breaks streaming)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable

import structlog
from fastapi import HTTPException, status
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jobs.core import deadline

log = structlog.get_logger("api.access")
REQUEST_ID_HEADER = "x-request-id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
RequestObserver = Callable[[str, str, int, float], None]  # method, route template, status, seconds


class RequestContextMiddleware:
    """Bind a request id (the caller's `X-Request-ID` if sane, else a new one) to every log line of the
    request, return it in the response, and log one line per request with its route template (which
    `observe`, e.g. the HTTP metrics, also gets)."""

    def __init__(self, app: ASGIApp, observe: RequestObserver | None = None) -> None:
        self.app = app
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status_code = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")  # every unmatched path: one value
            seconds = time.perf_counter() - started
            duration_ms = round(seconds * 1000, 2)
            log.info(
                "request", method=scope["method"], route=route, status=status_code, duration_ms=duration_ms
            )
            if self.observe is not None:
                self.observe(scope["method"], route, status_code, seconds)


class BodySizeLimitMiddleware:
    """413 for a body over `max_bytes`, by its Content-Length or, when chunked, as it streams in."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            response = JSONResponse({"detail": self._detail()}, status.HTTP_413_CONTENT_TOO_LARGE)
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, self._detail())
            return message

        await self.app(scope, limited_receive, send)

    def _detail(self) -> str:
        return f"request body is larger than {self.max_bytes} bytes"


class RedisBudgetMiddleware:
    """All the Redis work a request does before its response starts shares one budget of `seconds`
    (`jobs/core/deadline.py`): a frozen Redis is a 503 within it, however many calls the request makes.
    Once the response has started (an event stream), the budget no longer applies."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_then_unbudgeted(message: Message) -> None:
            if message["type"] == "http.response.start":
                deadline.clear()  # in the task that streams the body, which is the one sending
            await send(message)

        token = deadline.start(self.seconds)
        try:
            await self.app(scope, receive, send_then_unbudgeted)
        finally:
            deadline.reset(token)
