"""The page's frame in a real Chromium: it loads, shows the project, and reports server errors readably."""

from urllib.parse import quote

import pytest

from live import screenshot

pytestmark = pytest.mark.browser


def test_the_page_opens_on_the_project(webui):
    page, server, project = webui
    page.wait_for_selector("[data-testid=Grid]")
    assert page.title() == "imagier"
    screenshot(page, "shell-opened")


def test_a_link_with_a_view_opens_that_view(webui):
    page, server, project = webui
    view = '{"filter":{"property":"width","op":"gt","value":520},"sort":[],"group":[]}'
    page.goto(server.url + "/#view=" + quote(view))
    page.reload()  # the fixture's page is already at "/": a new hash alone is no new page load
    expected = len(project.query_ids({"property": "width", "op": "gt", "value": 520}))
    assert 0 < expected < project.file_count()
    page.wait_for_selector(f"[data-testid=view-count]:has-text('{expected} images')")
