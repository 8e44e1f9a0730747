"""The dashboard's login: a signed, expiring, HttpOnly session cookie, so no token ever sits in a URL.

The cookie is `v1.<expires>.<nonce>.<hmac>`; the HMAC key is derived from `ADMIN_TOKEN`, so rotating
the token logs every session out. Nothing is stored server side.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from fastapi import Response

from settings import Settings

COOKIE_NAME = "admin_session"
COOKIE_PATH = "/admin"
_VERSION = "v1"


def token_matches(settings: Settings, given: str) -> bool:
    """The admin token, compared in constant time; an empty token matches nothing. Compared as bytes that
    any str encodes to (a lone surrogate too, as JSON can carry one), so an odd token is a no, never a 500."""
    expected = _utf8(settings.admin_token.get_secret_value())
    return bool(expected) and secrets.compare_digest(_utf8(given), expected)


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _key(settings: Settings) -> bytes:
    token = _utf8(settings.admin_token.get_secret_value())
    return hmac.new(token, b"fastapi-arq-template admin session", hashlib.sha256).digest()


def _sign(settings: Settings, payload: str) -> str:
    return hmac.new(_key(settings), payload.encode(), hashlib.sha256).hexdigest()


def issue(settings: Settings) -> str:
    payload = f"{_VERSION}.{int(time.time()) + settings.admin_session_seconds}.{secrets.token_hex(8)}"
    return f"{payload}.{_sign(settings, payload)}"


def is_valid(settings: Settings, cookie: str | None) -> bool:
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


def set_cookie(response: Response, settings: Settings) -> None:
    response.set_cookie(
        COOKIE_NAME,
        issue(settings),
        max_age=settings.admin_session_seconds,
        path=COOKIE_PATH,
        httponly=True,  # page scripts cannot read it
        samesite="strict",  # other sites cannot make the browser send it (CSRF)
        secure=settings.environment == "production",  # production runs behind HTTPS
    )


def clear_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE_NAME, path=COOKIE_PATH, httponly=True, samesite="strict")
