"""The page's frame in a real Chromium: it loads, shows the project, and reports server errors readably."""

from urllib.parse import quote

import pytest

from live import eventually, screenshot

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


def test_every_dialog_closes_on_escape_and_only_it(webui):
    page, server, project = webui
    project.create_property("category", "multi-tag")
    project.create_property("note", "text")
    page.reload()
    page.wait_for_selector("[data-testid=tile-image]")
    page.click("[data-testid=tile] >> nth=1")
    assert page.locator("[data-testid=tile][aria-selected=true]").count() == 1

    def closes(opened: str, open_it) -> None:
        open_it()
        page.wait_for_selector(opened)
        page.keyboard.press("Escape")
        page.wait_for_selector(opened, state="detached")
        # The page's own Escape (clear the selection) did not run as well.
        assert page.locator("[data-testid=tile][aria-selected=true]").count() == 1

    closes("[data-testid=tag-box]", lambda: page.keyboard.press("t"))
    closes("[data-testid=set-value-dialog]", lambda: page.click("[data-testid=selection-set-value]"))
    closes("[data-testid=tile-editor]",
           lambda: page.click("[data-testid=tile] >> nth=1 >> [data-testid=tile-value][data-property=note]"))
    closes("[data-testid=tag-manager]",
           lambda: page.click("[data-testid=property-row][data-property=category] [data-testid=property-tags]"))

    # In the detail, Escape first leaves a property's editor, then closes the detail.
    page.dblclick("[data-testid=tile] >> nth=1")
    page.click("[data-testid=detail-property][data-property=note] [data-testid=detail-value]")
    page.wait_for_selector("[data-testid=detail-property][data-property=note] [data-testid=value-editor]")
    page.keyboard.press("Escape")
    page.wait_for_selector("[data-testid=detail-property][data-property=note] [data-testid=value-editor]", state="detached")
    assert page.locator("[data-testid=detail]").count() == 1
    page.keyboard.press("Escape")
    page.wait_for_selector("[data-testid=detail]", state="detached")
    assert page.locator("[data-testid=tile][aria-selected=true]").count() == 1
    assert project.values(project.query_ids(None), ["note"]) == {i: {} for i in project.query_ids(None)}


def test_the_page_follows_changes_made_elsewhere(webui):
    page, server, project = webui
    project.create_property("seen", "text")
    view = '{"filter":{"property":"seen","op":"is_set"},"sort":[],"group":[]}'
    page.wait_for_selector("[data-testid=view-count]")
    page.goto(server.url + "/#view=" + quote(view))
    page.reload()
    page.wait_for_selector("[data-testid=view-count]:has-text('0 images')")
    # a write from outside the page (a notebook, the CLI, a plugin job): the page catches up by itself
    project.set_values("seen", project.query_ids()[:2], "from a notebook")
    page.wait_for_selector("[data-testid=view-count]:has-text('2 images')", timeout=10_000)
    screenshot(page, "shell-followed-a-change")


def test_ctrl_z_in_a_text_field_undoes_the_typing_not_the_project(webui):
    page, server, project = webui
    project.create_property("first", "text")
    project.create_property("second", "text")
    page.wait_for_selector("[data-testid=tile-image]")
    field = page.get_by_test_id("search-input")
    field.click()
    page.keyboard.type("cat")
    page.keyboard.press("Control+z")  # the field's own undo
    field.blur()
    page.keyboard.press("Control+z")  # the page's: the project's last operation
    eventually(lambda: project.history(1)[0]["state"] == "undone")
    page.wait_for_timeout(1500)  # time for a second undo to land, had the field's Ctrl+Z sent one
    assert [op["state"] for op in project.history(2)] == ["undone", "done"]
