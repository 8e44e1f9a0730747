"""Typed dependencies, so route signatures read like sentences.

Each is `async def`, even with nothing to await: FastAPI runs a plain `def` dependency in its thread
pool, a hand-off that cost /signup about a tenth of its throughput (docs/benchmarks.md)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import Depends, Header, HTTPException, Request, status
from fastapi.params import Depends as DependsParam
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from arqkit import JobQueue, QueueAdmin
from arqkit.settings import QueueSettings
from arqkit.web import session
from arqkit.web.admin_guard import AuthThrottle, refuse_cross_origin_write


async def get_settings_dep(request: Request) -> QueueSettings:
    settings: QueueSettings = request.app.state.settings
    return settings


async def get_queue(request: Request) -> JobQueue:
    queue: JobQueue = request.app.state.queue
    return queue


async def get_admin(request: Request) -> QueueAdmin:
    admin: QueueAdmin = request.app.state.admin
    return admin


async def get_admin_sessions(request: Request) -> session.AdminSessions:
    sessions: session.AdminSessions = request.app.state.admin_sessions
    return sessions


async def get_auth_throttle(request: Request) -> AuthThrottle:
    throttle: AuthThrottle = request.app.state.auth_throttle
    return throttle


SettingsDep = Annotated[QueueSettings, Depends(get_settings_dep)]
QueueDep = Annotated[JobQueue, Depends(get_queue)]
QueueAdminDep = Annotated[QueueAdmin, Depends(get_admin)]
AdminSessionsDep = Annotated[session.AdminSessions, Depends(get_admin_sessions)]
AuthThrottleDep = Annotated[AuthThrottle, Depends(get_auth_throttle)]

_bearer = HTTPBearer(auto_error=False)


async def is_admin(
    request: Request,
    settings: SettingsDep,
    sessions: AdminSessionsDep,
    throttle: AuthThrottleDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> bool:
    """`Authorization: Bearer $ADMIN_TOKEN` (compared in constant time, wrong ones throttled per address),
    or the dashboard's open session, whose writes must come from the service's own origin. Which of the
    two is `request.state.admin_via` (an edited replay's audit records it)."""
    if credentials is not None:
        await throttle.refuse_if_throttled(request)
        if session.token_matches(settings, credentials.credentials):
            request.state.admin_via = "token"
            return True
        await throttle.record_failure(request)
    if not await sessions.is_open(request.cookies.get(session.COOKIE_NAME)):
        return False
    refuse_cross_origin_write(request)
    request.state.admin_via = "session"
    return True


async def require_admin(authenticated: Annotated[bool, Depends(is_admin)]) -> None:
    if not authenticated:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "a valid admin token is required", {"WWW-Authenticate": "Bearer"}
        )


AdminDep = Depends(require_admin)

# An Idempotency-Key: printable ASCII, as the charge route takes it.
IDEMPOTENCY_KEY = Header(
    None, alias="Idempotency-Key", min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$"
)


def IdempotentQueue(queue: DependsParam | None = None) -> DependsParam:
    """The route's queue (`queue`, e.g. `RateLimitedQueue("signup")`; else the plain one), and when the
    request carries an `Idempotency-Key`, one whose enqueue maps the key to its job: the same key with
    the same request answers with the same job, never a second one (with another body: a 422). A 503 may
    hide an accepted job (`EnqueueUnconfirmed`); the key is what makes the client's retry safe.

        SignupQueue = Annotated[JobQueue, IdempotentQueue(RateLimitedQueue("signup"))]
    """

    source: Any = queue or Depends(get_queue)  # a default value: FastAPI reads it as the dependency

    async def idempotent_queue(
        request: Request, base: JobQueue = source, key: str | None = IDEMPOTENCY_KEY
    ) -> JobQueue:
        if key is None:
            return base
        scope = f"{request.method} {request.url.path}"
        return await base.idempotent(scope, key, _fingerprint(request.url.query, await request.body()))

    dependency: DependsParam = Depends(idempotent_queue)
    return dependency


def _fingerprint(query: str, body: bytes) -> str:
    """The request as the key remembers it: its query and its JSON body with keys sorted, so a client
    that serializes the same body another way is not refused as a different one."""
    try:
        canonical = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS).decode()
    except orjson.JSONDecodeError:
        canonical = body.decode(errors="backslashreplace")
    return f"{query}\n{canonical}"
