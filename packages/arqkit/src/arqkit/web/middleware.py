"""The API's one pure ASGI middleware (no BaseHTTPMiddleware: it buffers and breaks streaming)."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable

import structlog
from fastapi import HTTPException, status
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from arqkit import deadline
from arqkit.web import security

log = structlog.get_logger("api.access")
REQUEST_ID_HEADER = "x-request-id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
RequestObserver = Callable[[str, str, int, float], None]  # method, route template, status, seconds


class RequestMiddleware:
    """What every HTTP request gets, in one ASGI layer (one `send` wrapper, not three):

    - a request id (the caller's `X-Request-ID` if sane, else a new one), bound to every log line of the
      request and returned in the response;
    - a 413 for a body over `max_body_bytes`, by its Content-Length or, when chunked, as it streams in;
    - one budget of `redis_budget_seconds` for all the Redis work before the response starts
      (`arqkit/deadline.py`): a frozen Redis is a 503 within it, however many calls the request
      makes. Once the response has started (an event stream), the budget no longer applies;
    - `X-Content-Type-Options: nosniff` on every response, and a Content-Security-Policy on HTML pages
      (`security.py`; a page is held until its body is complete, to hash its inline scripts);
    - one log line per request with its route template, which `observe` (the HTTP metrics) also gets.
      The 413s are logged and counted too.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        redis_budget_seconds: float,
        observe: RequestObserver | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.redis_budget_seconds = redis_budget_seconds
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        # 128 random bits as hex: what `uuid4().hex` gave, at a quarter of its cost.
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else os.urandom(16).hex()
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status_code = 500
        id_header = (b"x-request-id", request_id.encode())

        held: Message | None = None  # an HTML page's start, until its body is hashed (security.py)
        page: list[bytes] = []

        async def send_with_id(message: Message) -> None:
            nonlocal status_code, held
            if message["type"] == "http.response.start":
                status_code = message["status"]
                message["headers"] = [*message.get("headers", []), id_header, security.NOSNIFF]
                deadline.clear()  # in the task that streams the body, which is the one sending
                if security.needs_policy(message["headers"]):
                    held = message
                    return
            elif held is not None and message["type"] == "http.response.body":
                page.append(message.get("body", b""))
                more = message.get("more_body", False)
                if more and sum(map(len, page)) < security.MAX_HTML_BYTES:
                    return
                body = b"".join(page)
                policy = (b"content-security-policy", security.content_security_policy(body))
                held["headers"] = [*held["headers"], policy]
                start, held = held, None
                page.clear()
                await send(start)
                message = {"type": "http.response.body", "body": body, "more_body": more}
            await send(message)

        token = deadline.start(self.redis_budget_seconds)
        try:
            declared = headers.get(b"content-length")
            if declared is None or not declared.isdigit():
                await self.app(scope, self._limited(receive), send_with_id)
            elif int(declared) > self.max_body_bytes:
                response = JSONResponse({"detail": self._too_large()}, status.HTTP_413_CONTENT_TOO_LARGE)
                await response(scope, receive, send_with_id)
            else:  # the HTTP framing stops the body at its Content-Length: nothing to count
                await self.app(scope, receive, send_with_id)
        finally:
            deadline.reset(token)
            route = getattr(scope.get("route"), "path", "unmatched")  # every unmatched path: one value
            seconds = time.perf_counter() - started
            duration_ms = round(seconds * 1000, 2)
            log.info(
                "request", method=scope["method"], route=route, status=status_code, duration_ms=duration_ms
            )
            if self.observe is not None:
                self.observe(scope["method"], route, status_code, seconds)

    def _limited(self, receive: Receive) -> Receive:
        """`receive`, raising a 413 once the body streamed in (chunked) passes `max_body_bytes`."""
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body_bytes:
                raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, self._too_large())
            return message

        return limited_receive

    def _too_large(self) -> str:
        return f"request body is larger than {self.max_body_bytes} bytes"
