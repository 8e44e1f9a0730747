"""Typed dependencies, so route signatures read like sentences."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.core import session
from jobs.core import JobQueue, QueueAdmin
from settings import Settings


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_queue(request: Request) -> JobQueue:
    queue: JobQueue = request.app.state.queue
    return queue


def get_admin(request: Request) -> QueueAdmin:
    admin: QueueAdmin = request.app.state.admin
    return admin


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
QueueDep = Annotated[JobQueue, Depends(get_queue)]
QueueAdminDep = Annotated[QueueAdmin, Depends(get_admin)]

_bearer = HTTPBearer(auto_error=False)


def is_admin(
    request: Request,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> bool:
    """`Authorization: Bearer $ADMIN_TOKEN` (compared in constant time), or the dashboard's session cookie."""
    if credentials is not None and session.token_matches(settings, credentials.credentials):
        return True
    return session.is_valid(settings, request.cookies.get(session.COOKIE_NAME))


def require_admin(authenticated: Annotated[bool, Depends(is_admin)]) -> None:
    if not authenticated:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "a valid admin token is required", {"WWW-Authenticate": "Bearer"}
        )


AdminDep = Depends(require_admin)
