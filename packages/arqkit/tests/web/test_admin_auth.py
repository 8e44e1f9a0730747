"""Every admin route needs the bearer token or the dashboard's signed session cookie."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import pytest
import redis.asyncio
from pydantic import SecretStr

from arqkit.web import session
from tests.service.app import app as default_app
from tests.service.app import create_app
from tests.service.settings import Settings

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


async def test_logging_out_ends_the_session_on_the_server(api: httpx.AsyncClient) -> None:
    """Finding 8: a copy of the cookie kept working after logout, until it expired hours later."""
    cookie = await _log_in(api)

    await api.delete("/admin/session", headers={"Cookie": cookie})
    response = await api.get("/admin/queues", headers={"Cookie": cookie})

    assert response.status_code == 401


async def test_another_session_stays_open_when_one_logs_out(api: httpx.AsyncClient) -> None:
    mine, other = await _log_in(api), await _log_in(api)

    await api.delete("/admin/session", headers={"Cookie": mine})

    assert (await api.get("/admin/queues", headers={"Cookie": other})).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://test.evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "http://test", "Sec-Fetch-Site": "cross-site"},
    ],
)
async def test_a_cookie_authenticated_write_from_another_origin_is_403(
    api: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    """Finding 8: a replay with the cookie and a foreign Origin was accepted (only SameSite stopped it)."""
    cookie = await _log_in(api)

    response = await api.post(
        "/admin/dead-letters/replay", json={"since_seconds": 60}, headers={"Cookie": cookie, **headers}
    )

    assert response.status_code == 403
    assert response.json()["detail"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://test"},
        {"Sec-Fetch-Site": "same-origin"},
        {"Origin": "https://admin.example.com", "Sec-Fetch-Site": "same-origin"},  # a proxy rewrote Host
        {},
    ],
)
async def test_a_cookie_authenticated_write_from_the_services_own_pages_passes(
    api: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    cookie = await _log_in(api)

    response = await api.post(
        "/admin/dead-letters/replay", json={"since_seconds": 60}, headers={"Cookie": cookie, **headers}
    )

    assert response.status_code == 202


async def test_a_bearer_write_is_not_subject_to_the_origin_check(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/admin/dead-letters/replay",
        json={"since_seconds": 60},
        headers={"Authorization": "Bearer test-admin-token", "Origin": "https://elsewhere.example"},
    )

    assert response.status_code == 202


AddressedClient = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
async def from_address(
    settings: Settings, redis_client: redis.asyncio.Redis
) -> AsyncIterator[AddressedClient]:
    """Clients of one app (3 wrong tokens a minute per address), each from the peer address it names."""
    app = create_app(settings.model_copy(update={"admin_auth_failures": "3/minute"}))
    async with app.router.lifespan_context(app):

        @asynccontextmanager
        async def client(address: str) -> AsyncIterator[httpx.AsyncClient]:
            transport = httpx.ASGITransport(app=app, client=(address, 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                yield http

        yield client


async def test_wrong_tokens_at_the_login_form_are_throttled_per_address(
    from_address: AddressedClient,
) -> None:
    """Finding 8: ~345 guesses a second went through. Once throttled, even the right token is refused, so a
    guesser learns nothing from the answers."""
    async with from_address("203.0.113.7") as guesser, from_address("198.51.100.1") as other:
        wrong = [await guesser.post("/admin/session", json={"token": f"guess-{i}"}) for i in range(3)]
        throttled = await guesser.post("/admin/session", json={"token": "test-admin-token"})
        elsewhere = await other.post("/admin/session", json={"token": "test-admin-token"})

    assert [r.status_code for r in wrong] == [401, 401, 401]
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["retry-after"]) <= 60
    assert elsewhere.status_code == 204


async def test_wrong_bearer_tokens_are_throttled_per_address(from_address: AddressedClient) -> None:
    async with from_address("203.0.113.7") as guesser:
        wrong = [
            await guesser.get("/admin/queues", headers={"Authorization": f"Bearer guess-{i}"})
            for i in range(3)
        ]
        throttled = await guesser.get("/admin/queues", headers={"Authorization": "Bearer test-admin-token"})

    assert [r.status_code for r in wrong] == [401, 401, 401]
    assert throttled.status_code == 429


async def test_the_right_token_never_counts_against_an_address(from_address: AddressedClient) -> None:
    async with from_address("203.0.113.7") as operator:
        answers = [
            await operator.get("/admin/queues", headers={"Authorization": "Bearer test-admin-token"})
            for _ in range(10)
        ]

    assert {r.status_code for r in answers} == {200}


async def _log_in(api: httpx.AsyncClient) -> str:
    """The `name=value` of a fresh session cookie."""
    response = await api.post("/admin/session", json={"token": "test-admin-token"})
    return response.headers["set-cookie"].split(";", 1)[0]
