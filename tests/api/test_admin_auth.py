"""Every admin route needs the bearer token or the dashboard's signed session cookie."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from pydantic import SecretStr

from api.core import session
from api.main import app as default_app
from settings import Settings

PUBLIC_ADMIN_ROUTES = {("GET", "/admin"), ("POST", "/admin/session"), ("DELETE", "/admin/session")}
BODIES = {"/admin/dead-letters/replay": {"since_seconds": 60}}


def _admin_routes() -> list[tuple[str, str]]:
    """Every (method, path) under /admin in the OpenAPI schema, path parameters filled in: new admin
    routes are covered as they come."""
    found = []
    for path, operations in default_app.openapi()["paths"].items():
        for method in operations:
            if path.startswith("/admin") and (method.upper(), path) not in PUBLIC_ADMIN_ROUTES:
                found.append((method.upper(), re.sub(r"\{[^}]+\}", "some-job", path)))
    return sorted(found)


ADMIN_ROUTES = _admin_routes()
WITHOUT_CREDENTIALS = {
    "no credentials": {},
    "a wrong token": {"Authorization": "Bearer not-the-token"},
    "a tampered cookie": {"Cookie": "admin_session=v1.9999999999.00ff00ff00ff00ff.0000"},
}


def _with_query(path: str) -> str:
    return path + "?since_seconds=60" if path.endswith("/window") else path


def test_the_admin_routes_are_found() -> None:
    assert ("GET", "/admin/queues") in ADMIN_ROUTES
    assert ("GET", "/admin/events") in ADMIN_ROUTES
    assert ("GET", "/admin/jobs/some-job") in ADMIN_ROUTES


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
@pytest.mark.parametrize("credentials", WITHOUT_CREDENTIALS.keys())
async def test_admin_route_is_401_without_valid_credentials(
    api: httpx.AsyncClient, method: str, path: str, credentials: str
) -> None:
    headers = WITHOUT_CREDENTIALS[credentials]
    response = await api.request(method, _with_query(path), json=BODIES.get(path), headers=headers)

    assert response.status_code == 401
    assert response.json()["detail"]


async def test_login_with_the_token_sets_an_httponly_strict_session_cookie(api: httpx.AsyncClient) -> None:
    response = await api.post("/admin/session", json={"token": "test-admin-token"})

    assert response.status_code == 204
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{session.COOKIE_NAME}=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/admin" in cookie
    assert "test-admin-token" not in cookie


async def test_login_with_a_wrong_token_is_401_and_sets_no_cookie(api: httpx.AsyncClient) -> None:
    response = await api.post("/admin/session", json={"token": "guess"})

    assert response.status_code == 401
    assert "set-cookie" not in response.headers


async def test_the_session_cookie_opens_the_admin_api(api: httpx.AsyncClient) -> None:
    cookie = await _log_in(api)

    response = await api.get("/admin/queues", headers={"Cookie": cookie})

    assert response.status_code == 200


async def test_a_session_cookie_with_a_changed_expiry_is_rejected(api: httpx.AsyncClient) -> None:
    name, _, value = (await _log_in(api)).partition("=")
    version, expires, rest = value.split(".", 2)
    tampered = f"{name}={version}.{int(expires) + 3600}.{rest}"

    response = await api.get("/admin/queues", headers={"Cookie": tampered})

    assert response.status_code == 401


def test_a_session_signed_with_another_token_is_invalid(settings: Settings) -> None:
    cookie = session.issue(settings.model_copy(update={"admin_token": SecretStr("an-older-token")}))

    assert not session.is_valid(settings, cookie)


def test_an_expired_session_is_invalid(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    cookie = session.issue(settings)
    monkeypatch.setattr(time, "time", lambda: 1e12)

    assert not session.is_valid(settings, cookie)


def test_with_an_empty_admin_token_no_session_is_valid(settings: Settings) -> None:
    empty = settings.model_copy(update={"admin_token": SecretStr("")})

    assert not session.is_valid(empty, session.issue(empty))


async def test_the_dashboard_page_without_a_session_is_the_login_form(api: httpx.AsyncClient) -> None:
    response = await api.get("/admin")

    assert response.status_code == 200
    assert 'id="login-form"' in response.text
    assert "dead-letters" not in response.text


async def test_the_dashboard_page_with_a_session_is_the_dashboard(api: httpx.AsyncClient) -> None:
    response = await api.get("/admin", headers={"Cookie": await _log_in(api)})

    assert 'id="dead-letters"' in response.text
    assert "default-src 'self'" in response.headers["content-security-policy"]


async def test_logging_out_expires_the_cookie(api: httpx.AsyncClient) -> None:
    response = await api.delete("/admin/session")

    assert response.status_code == 204
    assert 'admin_session=""' in response.headers["set-cookie"]
    assert "Max-Age=0" in response.headers["set-cookie"]


async def _log_in(api: httpx.AsyncClient) -> str:
    """The `name=value` of a fresh session cookie."""
    response = await api.post("/admin/session", json={"token": "test-admin-token"})
    return response.headers["set-cookie"].split(";", 1)[0]
