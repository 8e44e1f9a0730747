"""Input crafted to break the service, without any credentials: always a 4xx with a JSON `detail`."""

from __future__ import annotations

import httpx
import pytest

from arqkit.web import session
from tests.service.settings import Settings

JSON = {"content-type": "application/json"}
ADMIN_ROUTES = ["/admin", "/admin/queues", "/admin/dead-letters", "/admin/jobs/j1"]


def _assert_4xx_with_detail(response: httpx.Response) -> None:
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["detail"]


@pytest.mark.parametrize("number", ["1e309", "-1e309", "NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/notify", '{"email": "a@example.com", "name": %s}'),
        ("/long", '{"owner": %s, "label": "2026-01"}'),
        ("/charges/p1", '{"amount_cents": %s, "currency": "EUR"}'),
        ("/admin/session", '{"token": %s}'),
        ("/admin/dead-letters/replay", '{"since_seconds": %s}'),
    ],
)
async def test_a_number_json_cannot_encode_is_a_422_with_detail(
    api: httpx.AsyncClient, path: str, template: str, number: str
) -> None:
    headers = {**JSON, "Idempotency-Key": "k", "Authorization": "Bearer test-admin-token"}

    response = await api.post(path, content=template % number, headers=headers)

    assert response.status_code == 422
    _assert_4xx_with_detail(response)


async def test_the_422_names_a_non_finite_input_as_text(api: httpx.AsyncClient) -> None:
    response = await api.post("/long", content='{"owner": NaN, "label": "2026-01"}', headers=JSON)

    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "owner"]
    assert error["input"] == "NaN"


@pytest.mark.parametrize("depth", [600, 950])
async def test_a_deeply_nested_body_is_a_4xx(api: httpx.AsyncClient, depth: int) -> None:
    nested = "[" * depth + "]" * depth

    response = await api.post("/notify", content=f'{{"email": {nested}, "name": "a"}}', headers=JSON)

    _assert_4xx_with_detail(response)


@pytest.mark.parametrize("owner", [2**53, 2**63, 2**64, 10**30])
async def test_a_owner_beyond_what_json_carries_exactly_is_a_422(api: httpx.AsyncClient, owner: int) -> None:
    response = await api.post("/long", json={"owner": owner, "label": "2026-01"})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "owner"]


async def test_the_largest_owner_json_carries_exactly_is_accepted(api: httpx.AsyncClient) -> None:
    response = await api.post("/long", json={"owner": 2**53 - 1, "label": "2026-01"})

    assert response.status_code == 202


@pytest.mark.parametrize("token", ['"\\ud800"', '"ok\\udfff"', '"\\ud800\\udc00\\ud800"'])
async def test_a_lone_surrogate_as_the_admin_token_is_a_4xx(api: httpx.AsyncClient, token: str) -> None:
    response = await api.post("/admin/session", content=f'{{"token": {token}}}', headers=JSON)

    _assert_4xx_with_detail(response)
    assert "set-cookie" not in response.headers


def test_a_token_with_a_lone_surrogate_does_not_match(settings: Settings) -> None:
    assert not session.token_matches(settings, "\ud800")
    assert not session.token_matches(settings, "test-admin-token\udfff")


@pytest.mark.parametrize("route", ADMIN_ROUTES)
@pytest.mark.parametrize(
    "cookie",
    [
        b"v1.9999999999.abcd.\xe9",  # a non-ASCII byte in the signature
        b"\xff\xfe",
    ],
    ids=["signature", "bytes"],
)
async def test_a_malformed_session_cookie_is_no_session(
    api: httpx.AsyncClient, route: str, cookie: bytes
) -> None:
    response = await api.get(route, headers={b"cookie": b"admin_session=" + cookie})

    if route == "/admin":
        assert response.status_code == 200
        assert "sign in" in response.text  # the login form, not the dashboard
    else:
        assert response.status_code == 401
        assert response.json()["detail"]


@pytest.mark.parametrize("token", [b"\xff\xfe", b"\xe2\x82\xac", b"x" * 5000])
async def test_an_odd_bearer_token_is_401(api: httpx.AsyncClient, token: bytes) -> None:
    response = await api.get("/admin/queues", headers={b"authorization": b"Bearer " + token})

    assert response.status_code == 401
    assert response.json()["detail"]
