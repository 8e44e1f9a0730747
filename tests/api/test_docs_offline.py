"""`/docs` and `/redoc` work without internet: their scripts and styles come from an installed package
(fastapi-offline), served by the app itself, never from a CDN. In a browser with no network:
packages/arqkit/tests/web/test_docs_offline.py."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

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
