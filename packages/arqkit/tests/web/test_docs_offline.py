"""`/docs` works without internet when the app is a `FastAPIOffline` (as the template's is): Swagger UI
renders every route, the package's included, with each request to another origin refused."""

from __future__ import annotations

from playwright.async_api import Browser, Request, Route, expect


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

    await expect(page.locator(".swagger-ui .info .title")).to_contain_text("arqkit fixture service")
    await expect(page.locator(".opblock-summary-path", has_text="/jobs/{job_id}/events")).to_be_visible()
    assert elsewhere == []
    await context.close()
