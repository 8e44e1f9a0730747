"""`/docs` and `/redoc` work without internet: their scripts and styles come from an installed package
(fastapi-offline), served by the app itself, never from a CDN."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser, Request, Route, expect

from settings import Settings
from tests.support import serve_api

ASSET = re.compile(r"""(?:src|href)=["']([^"']+)["']""")
KINDS = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_docs_pages_load_only_same_origin_assets_and_each_answers(
    api: httpx.AsyncClient, page: str
) -> None:
    html = (await api.get(page)).text
    assets = ASSET.findall(html)

    assert any(url.endswith(".js") for url in assets)
    for url in assets:
        assert not urlsplit(url).netloc, f"{page} loads {url} from another origin"
        response = await api.get(url)
        assert response.status_code == 200, url
        assert KINDS[Path(url).suffix] in response.headers["content-type"], url


@pytest.fixture
def live_api(settings: Settings, tmp_path: Path) -> Iterator[str]:
    with serve_api(settings, tmp_path / "api.log") as url:
        yield url


async def test_swagger_ui_renders_the_routes_in_chromium_with_no_network(
    browser: Browser, live_api: str
) -> None:
    """Every request to another origin is refused, as on a machine without internet."""
    context = await browser.new_context()
    elsewhere: list[str] = []

    async def only_same_origin(route: Route, request: Request) -> None:
        if request.url.startswith(live_api):
            await route.continue_()
        else:
            elsewhere.append(request.url)
            await route.abort()

    await context.route("**/*", only_same_origin)
    page = await context.new_page()
    await page.goto(live_api + "/docs")

    await expect(page.locator(".swagger-ui .info .title")).to_contain_text("FastAPI + arq service")
    await expect(page.locator(".opblock-summary-path", has_text="/jobs/{job_id}/events")).to_be_visible()
    assert elsewhere == []
    await context.close()
