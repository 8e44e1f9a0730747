"""What guards the admin side besides the token: wrong tokens are throttled per client address, and a
browser's cookie-authenticated write must come from the service's own pages."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import HTTPException, Request, status
from redis.asyncio import Redis

from arqkit import keys
from arqkit.errors import unavailable_on_redis_error
from arqkit.settings import QueueSettings
from arqkit.sliding_window import Rate, SlidingWindowLimiter
from arqkit.web.rate_limit import ApiRateLimiter

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SAME_ORIGIN_FETCH_SITES = frozenset({"same-origin", "none"})  # `none`: typed in the address bar


class AuthThrottle:
    """`ADMIN_AUTH_FAILURES` wrong tokens per client address (login form and bearer alike), then every
    attempt from that address is a 429, the right token included, until the window frees: a guesser
    learns nothing from the answers any more. One per app, made in the lifespan."""

    def __init__(self, redis: Redis, settings: QueueSettings, addresses: ApiRateLimiter) -> None:
        self.rate = Rate.parse(settings.admin_auth_failures)
        self._limiter = SlidingWindowLimiter(redis)
        self._addresses = addresses

    async def refuse_if_throttled(self, request: Request) -> None:
        with unavailable_on_redis_error():
            decision = await self._limiter.peek(self._key(request), self.rate)
        if not decision.admitted:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                f"too many wrong admin tokens from this address; retry after {decision.retry_after} s",
                {"Retry-After": str(decision.retry_after)},
            )

    async def record_failure(self, request: Request) -> None:
        with unavailable_on_redis_error():
            await self._limiter.acquire(self._key(request), self.rate)

    def _key(self, request: Request) -> str:
        return keys.rate_window("admin:auth-failures", self._addresses.client_address(request))


def refuse_cross_origin_write(request: Request) -> None:
    """403 for a browser write from another site: SameSite cookies alone leave older browsers and
    same-site subdomains open to CSRF. A client that sends neither header (curl, scripts) is not a
    browser acting for someone else, and passes."""
    if request.method in WRITE_METHODS and _is_cross_origin(request):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-origin admin writes are refused")


def _is_cross_origin(request: Request) -> bool:
    """The browser's own verdict (`Sec-Fetch-Site`, which page scripts cannot set) when it sends one: it
    holds behind a proxy that rewrites `Host`. Else `Origin` against `Host`."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site not in SAME_ORIGIN_FETCH_SITES
    origin = request.headers.get("origin")
    if origin is None:
        return False
    try:
        netloc = urlsplit(origin).netloc
    except ValueError:
        return True
    return not netloc or netloc.lower() != request.headers.get("host", "").lower()
