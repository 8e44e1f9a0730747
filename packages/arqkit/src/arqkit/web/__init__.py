"""The FastAPI side: `QueueService` (lifespan, routes, middleware, admin) and what your routes use:
dependencies (`arqkit.web.deps`), rate limits (`arqkit.web.rate_limit`), the 202 answer
(`arqkit.web.schemas`) and the OpenAPI error shapes (`arqkit.web.openapi`)."""

from __future__ import annotations

from arqkit.web.app import QueueService

__all__ = ["QueueService"]
