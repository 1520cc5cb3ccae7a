"""The server's own API pages, /docs (Swagger UI) and /redoc, work offline: their scripts, stylesheets and
icons come from the server, never from a CDN, so a researcher without internet access can browse the API."""

from __future__ import annotations

from urllib.parse import urljoin

import httpx
import pytest

from imagier.server.app import create_app
from live import LAPTOP, LiveServer
from test_docs_site import is_outside, references_in

API_PAGES = ("/docs", "/redoc")


@pytest.fixture
def server(project):
    with LiveServer(create_app(project)) as server:
        yield server


@pytest.mark.parametrize("address", API_PAGES)
def test_the_api_pages_load_only_from_the_server(server, address):
    with httpx.Client(base_url=server.url, timeout=30) as client:
        page = client.get(address)
        assert page.status_code == 200
        loaded = references_in(page.text).loaded
        assert loaded, f"{address} loads its viewer's script"
        assert [url for url in loaded if is_outside(url)] == []
        for url in loaded:
            assert client.get(urljoin(server.url + address, url)).status_code == 200, url


@pytest.mark.browser
def test_swagger_ui_shows_every_route_without_the_internet(server, chromium, project):
    operations = sum(1 for item in create_app(project).openapi()["paths"].values() for method in item
                     if method in ("get", "post", "put", "patch", "delete"))
    outside: list[str] = []

    def only_the_server(route):
        if route.request.url.startswith(server.url + "/"):
            route.continue_()
        else:  # as on a machine without internet access
            outside.append(route.request.url)
            route.abort()

    context = chromium.new_context(viewport=LAPTOP)
    try:
        context.route("**/*", only_the_server)
        page = context.new_page()
        page.goto(server.url + "/docs")
        page.wait_for_function("n => document.querySelectorAll('.opblock').length === n", arg=operations,
                               timeout=30_000)
        assert page.locator(".swagger-ui .info .title").inner_text().startswith("imagier")
    finally:
        context.close()
    assert outside == []
