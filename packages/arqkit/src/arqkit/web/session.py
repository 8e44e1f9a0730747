"""The dashboard's login: a signed, expiring, HttpOnly session cookie, so no token ever sits in a URL.

The cookie is `v1.<expires>.<session id>.<hmac>`; the HMAC key is derived from `ADMIN_TOKEN`, so rotating
the token logs every session out. The session id is also kept in Redis until the session expires, and
logging out deletes it: a copied cookie stops working at logout, not hours later.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from fastapi import Response
from redis.asyncio import Redis

from arqkit import keys
from arqkit.errors import unavailable_on_redis_error
from arqkit.settings import QueueSettings

COOKIE_NAME = "admin_session"
COOKIE_PATH = "/admin"
_VERSION = "v1"


def token_matches(settings: QueueSettings, given: str) -> bool:
    """The admin token, compared in constant time; an empty token matches nothing. Compared as bytes that
    any str encodes to (a lone surrogate too, as JSON can carry one), so an odd token is a no, never a 500."""
    expected = _utf8(settings.admin_token.get_secret_value())
    return bool(expected) and secrets.compare_digest(_utf8(given), expected)


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _key(settings: QueueSettings) -> bytes:
    token = _utf8(settings.admin_token.get_secret_value())
    return hmac.new(token, b"fastapi-arq-template admin session", hashlib.sha256).digest()


def _sign(settings: QueueSettings, payload: str) -> str:
    return hmac.new(_key(settings), payload.encode(), hashlib.sha256).hexdigest()


def issue(settings: QueueSettings) -> str:
    payload = f"{_VERSION}.{int(time.time()) + settings.admin_session_seconds}.{secrets.token_hex(16)}"
    return f"{payload}.{_sign(settings, payload)}"


def is_valid(settings: QueueSettings, cookie: str | None) -> bool:
    """Signed with the current token and not expired. A token that is empty never validates a session;
    a cookie not of our form (any byte a browser or a client sends) is no session, never a 500."""
    if not cookie or not cookie.isascii() or not settings.admin_token.get_secret_value():
        return False
    payload, _, signature = cookie.rpartition(".")
    version, _, rest = payload.partition(".")
    expires = rest.partition(".")[0]
    if version != _VERSION or not expires.isdigit():
        return False
    return hmac.compare_digest(signature, _sign(settings, payload)) and int(expires) > time.time()


def session_id(cookie: str) -> str:
    """The id part of a cookie that `is_valid` accepted."""
    return cookie.split(".")[2]


class AdminSessions:
    """Open sessions, in Redis: one per app, made in the lifespan on the queue's pool."""

    def __init__(self, redis: Redis, settings: QueueSettings) -> None:
        self.redis = redis
        self.settings = settings

    async def open(self, response: Response) -> None:
        """Start a session and hand its cookie to the browser."""
        cookie = issue(self.settings)
        with unavailable_on_redis_error():
            await self.redis.set(
                keys.admin_session(session_id(cookie)), 1, ex=self.settings.admin_session_seconds
            )
        set_cookie(response, self.settings, cookie)

    async def is_open(self, cookie: str | None) -> bool:
        """Signed with the current token, not expired, and not logged out."""
        if cookie is None or not is_valid(self.settings, cookie):
            return False
        with unavailable_on_redis_error():
            return bool(await self.redis.exists(keys.admin_session(session_id(cookie))))

    async def close(self, cookie: str | None, response: Response) -> None:
        """Log out: the session ends on the server, whoever holds a copy of the cookie."""
        if cookie is not None and is_valid(self.settings, cookie):
            with unavailable_on_redis_error():
                await self.redis.delete(keys.admin_session(session_id(cookie)))
        clear_cookie(response)


def set_cookie(response: Response, settings: QueueSettings, cookie: str) -> None:
    response.set_cookie(
        COOKIE_NAME,
        cookie,
        max_age=settings.admin_session_seconds,
        path=COOKIE_PATH,
        httponly=True,  # page scripts cannot read it
        samesite="strict",  # other sites cannot make the browser send it (CSRF)
        secure=settings.environment == "production",  # production runs behind HTTPS
    )


def clear_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE_NAME, path=COOKIE_PATH, httponly=True, samesite="strict")
