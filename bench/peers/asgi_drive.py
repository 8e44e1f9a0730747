"""`POST /signup` driven in-process through an ASGI app, for callgrind: `python -m bench.peers.asgi_drive
MODULE:ATTR[:ARG] REQUESTS`.

32 concurrent callers on uvloop (as uvicorn runs), the same body as the HTTP benchmark; log lines go to
/dev/null. ATTR is an ASGI app, or a function of ARG that returns one (`bench.instructions:variant_app`).
Only the requests are counted (`bench.peers.callgrind`): the app's import, its lifespan's start and
stop are not. The standard library, uvloop and the app's own imports only: it runs in every peer's venv.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import sys
from typing import Any

import uvloop

from bench.peers import callgrind

BODY = b'{"email": "ada@example.com", "name": "Ada"}'
CALLERS = 32


def load_app(spec: str) -> Any:
    module, attr, *arg = spec.split(":")
    found = getattr(importlib.import_module(module), attr)
    return found if hasattr(found, "router") else found(*arg)


def drive(app: Any, requests: int) -> None:
    async def run() -> None:
        async with app.router.lifespan_context(app):
            await asyncio.gather(*(_caller(app, 1) for _ in range(CALLERS)))  # connections, scripts, caches
            callgrind.start()
            await asyncio.gather(*(_caller(app, requests // CALLERS) for _ in range(CALLERS)))
            callgrind.stop()

    with open(os.devnull, "w") as devnull:
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(devnull)
        uvloop.run(run())


async def _caller(app: Any, requests: int) -> None:
    headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")]
    headers.append((b"content-length", str(len(BODY)).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/signup",
        "raw_path": b"/signup",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    for _ in range(requests):
        sent: list[dict[str, Any]] = []
        body = [{"type": "http.request", "body": BODY, "more_body": False}]

        async def receive(body: list[dict[str, Any]] = body) -> dict[str, Any]:
            if body:
                return body.pop()
            await asyncio.Event().wait()  # the client stays connected until the response is sent
            raise AssertionError("unreachable")

        async def send(message: dict[str, Any], sent: list[dict[str, Any]] = sent) -> None:
            sent.append(message)

        await app(dict(scope), receive, send)
        if sent[0]["status"] != 202:
            raise RuntimeError(f"POST /signup answered {sent[0]['status']}: {sent}")


if __name__ == "__main__":
    drive(load_app(sys.argv[1]), int(sys.argv[2]))
