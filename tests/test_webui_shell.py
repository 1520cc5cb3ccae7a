"""The page's frame in a real Chromium: it loads, shows the project, and reports server errors readably."""

import pytest

from live import screenshot

pytestmark = pytest.mark.browser


def test_the_page_opens_on_the_project(webui):
    page, server, project = webui
    page.wait_for_selector("[data-testid=Grid]")
    assert page.title() == "imagier"
    screenshot(page, "shell-opened")
