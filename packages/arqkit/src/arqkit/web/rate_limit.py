"""Per-client API rate limits on a sliding window in Redis. The app declares its limits by name
(`QueueService(..., rate_limits={"signup": "5/minute"})`), and a route opts in with one line:

    @router.get("/things/{id}", dependencies=[RateLimit("things")])  # a round trip of its own

    SignupQueue = Annotated[JobQueue, RateLimitedQueue("signup")]  # decided in the enqueue's round trip
    async def signup(body: SignupIn, queue: SignupQueue) -> Accepted: ...

A route that names a limit the app did not declare stops the app at startup (`undeclared_limits`).
The machinery's own routes use `status` (reading a job) and `abort` (DELETE /jobs/{id}), from settings.

A route whose Redis work is one enqueue takes `RateLimitedQueue`: the limit is decided in the enqueue's
own Redis call (`JobQueue.admitted_by`), so the request makes one round trip instead of two; refused, it
is the same 429 and nothing is written. A request refused for its body (422) never reaches the enqueue
and is not counted.

The limit comes from QueueSettings (`RATE_LIMIT_SIGNUP=5/minute`). A client is its API key when it sends one
the service issued (its SHA-256 is in `API_KEYS`), else its address; `X-Forwarded-For` is believed only
from the proxies in `TRUSTED_PROXIES`. Every limited answer carries `RateLimit-Limit`,
`RateLimit-Remaining` and `RateLimit-Reset`; a 429 also `Retry-After`.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import math
from collections.abc import Iterator, Mapping, Sequence

import structlog
from fastapi import Depends, FastAPI, HTTPException, Request, Response, status
from fastapi.dependencies.models import Dependant
from fastapi.params import Depends as DependsParam
from fastapi.routing import APIRoute
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.routing import BaseRoute

from arqkit import JobQueue, RateLimited, keys
from arqkit.settings import QueueSettings
from arqkit.sliding_window import Admission, Decision, Rate, SlidingWindowLimiter

log = structlog.get_logger("api.rate_limit")

LimitName = str
LIMIT_ATTRIBUTE = "rate_limit_name"  # set on each limit's dependency, so startup can find the names in use
FORWARDED_FOR = "x-forwarded-for"
MAX_HOPS = 16  # a longer X-Forwarded-For chain is read from its right end only
REWRITTEN = "rewritten-by-server"  # the one client of every request whose peer a server took from the header


class ApiRateLimiter:
    """One per app, made in the lifespan next to the job queue; routes reach it through `RateLimit`."""

    def __init__(self, redis: Redis, settings: QueueSettings, rates: Mapping[LimitName, str] = {}) -> None:
        self.settings = settings
        self.rates: dict[LimitName, Rate] = {
            "status": Rate.parse(settings.rate_limit_status),
            "abort": Rate.parse(settings.rate_limit_abort),
            **{name: Rate.parse(rate) for name, rate in rates.items()},
        }
        self.trusted_proxies = [ipaddress.ip_network(p, strict=False) for p in settings.trusted_proxies]
        self.known_keys = frozenset(settings.api_keys)
        self._warned_rewritten = False
        self._limiter = SlidingWindowLimiter(redis)

    async def check(self, name: LimitName, request: Request, response: Response) -> None:
        """Admit the request and set its headers, or raise `RateLimited` (429), or 503 when Redis is away
        and the limiter fails closed."""
        admission = self.admission(name, request)
        try:
            decision = await self._limiter.acquire(admission.window, admission.rate)
        except (RedisError, OSError) as exc:
            if self.settings.rate_limit_fail_open:
                log.warning("rate limiter unavailable, request let through", limit=name, error=str(exc))
                return
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                "rate limiting is unavailable, try again shortly",
                {"Retry-After": "1"},
            ) from exc
        if not decision.admitted:
            raise RateLimited(admission.rate, decision)
        response.headers.update(headers(decision))

    def admission(self, name: LimitName, request: Request) -> Admission:
        """The `name` limit for this request's client, for `check` or for an enqueue to decide."""
        return Admission(keys.rate_window(f"api:{name}", self.client_key(request)), self.rates[name])

    def client_key(self, request: Request) -> str:
        """`key:<digest>` for an API key listed in `API_KEYS`, else `ip:<address>`: a key the service did
        not issue counts as no key, so inventing keys buys no buckets of one's own."""
        api_key = request.headers.get(self.settings.rate_limit_api_key_header)
        if api_key:
            digest = hashlib.sha256(api_key.encode(errors="replace")).hexdigest()
            if digest in self.known_keys:
                return "key:" + digest[:32]
        return "ip:" + self.client_address(request)

    def client_address(self, request: Request) -> str:
        """The peer, or, while the hop in hand is a trusted proxy, the address it says it forwarded for.

        Always a normalised IP address or a fixed-size digest: whatever a header says, the Redis key stays
        short."""
        address = request.client.host if request.client else "unknown"
        hops = [h.strip() for v in request.headers.getlist(FORWARDED_FOR) for h in v.split(",")]
        if any(_names(hop, address) for hop in hops):  # a proxy never lists itself: the server rewrote it
            return self._rewritten_by_the_server()
        for hop in reversed(hops[-MAX_HOPS:]):
            if not self._is_trusted(address) or not _is_ip(hop):
                break
            address = hop
        return _bounded(address)

    def _rewritten_by_the_server(self) -> str:
        """The peer is a hop of the request's own X-Forwarded-For: uvicorn's proxy headers (on unless
        `--no-proxy-headers`; they believe 127.0.0.1 and ::1) replaced the real peer with a value the client
        may have chosen. Believing it would let a client rotate its address per request, so every such
        request shares one budget, and the misconfiguration is logged once."""
        if not self._warned_rewritten:
            self._warned_rewritten = True
            log.warning(
                "the server rewrote the client address from X-Forwarded-For; start uvicorn with "
                "--no-proxy-headers and list your proxies in TRUSTED_PROXIES (such requests share one limit)"
            )
        return REWRITTEN

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted_proxies)


def RateLimit(name: LimitName) -> DependsParam:
    """The dependency that applies the app's `name` limit to a route, in a round trip of its own."""

    async def limit(request: Request, response: Response) -> None:
        limiter: ApiRateLimiter = request.app.state.rate_limiter
        if limiter.settings.rate_limit_enabled:
            await limiter.check(name, request, response)

    setattr(limit, LIMIT_ATTRIBUTE, name)
    dependency: DependsParam = Depends(limit)
    return dependency


def RateLimitedQueue(name: LimitName) -> DependsParam:
    """The dependency that gives a route the job queue, whose enqueue first passes the `name` limit in
    the same Redis call (refused: `RateLimited`, a 429, nothing written). The RateLimit-* headers come
    from the answer's `admission` (`arqkit.web.schemas.accepted` sets them)."""

    async def limited_queue(request: Request) -> JobQueue:
        queue: JobQueue = request.app.state.queue
        limiter: ApiRateLimiter = request.app.state.rate_limiter
        if not limiter.settings.rate_limit_enabled:
            return queue
        return queue.admitted_by(limiter.admission(name, request))

    setattr(limited_queue, LIMIT_ATTRIBUTE, name)
    dependency: DependsParam = Depends(limited_queue)
    return dependency


def undeclared_limits(app: FastAPI, limiter: ApiRateLimiter) -> list[str]:
    """`METHOD path uses 'name'` for each route whose rate limit the app did not declare (the test of
    this is tests/web/test_rate_limit.py's, which fails if FastAPI stops exposing routes this way)."""
    return [
        f"{','.join(sorted(route.methods or ()))} {route.path} uses {name!r}"
        for route in api_routes(app.routes)
        for name in _limit_names(route.dependant)
        if name not in limiter.rates
    ]


def api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    """Every APIRoute, including those of included routers: FastAPI >= 0.16x keeps an included router as
    one entry (its `original_router`) instead of copying its routes (a path prefix is not applied here)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from api_routes(included.routes)


def _limit_names(dependant: Dependant) -> set[str]:
    name = getattr(dependant.call, LIMIT_ATTRIBUTE, None)
    names = {name} if isinstance(name, str) else set()
    for sub in dependant.dependencies:
        names |= _limit_names(sub)
    return names


def headers(decision: Decision) -> dict[str, str]:
    """The RateLimit-* headers of an answer the limit admitted or refused."""
    return {
        "RateLimit-Limit": str(decision.limit),
        "RateLimit-Remaining": str(decision.remaining),
        "RateLimit-Reset": str(math.ceil(decision.reset_seconds)),
    }


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@functools.lru_cache(maxsize=4096)  # per request: the same few peers (proxies, clients) again and again
def _bounded(address: str) -> str:
    """A valid IP in its canonical form; anything else (a test client's name, a forged value) as a digest."""
    try:
        return ipaddress.ip_address(address).compressed
    except ValueError:
        return "digest-" + hashlib.sha256(address.encode(errors="replace")).hexdigest()[:32]


def _names(hop: str, host: str) -> bool:
    """Whether an X-Forwarded-For hop is `host`, bare, `host:port` or `[host]:port` (as uvicorn reads it)."""
    return hop == host or hop.startswith((host + ":", f"[{host}]"))
