"""The table view in a real Chromium: keyboard editing like a spreadsheet and sorting by a column,
checked in the project afterwards."""

import pytest

from live import screenshot

pytestmark = pytest.mark.browser


def _open_table(page):
    page.reload()  # properties made through the API after the page opened
    page.click("[data-testid=mode-table]")
    page.wait_for_selector("[data-testid=table-row] [data-testid=table-thumb] img")


def _closed(page):
    """The cell's editor closed: the value was saved and the focus moved on."""
    page.wait_for_selector("[data-testid=table-cell] [data-testid=value-editor]", state="detached")


def _row_ids(page) -> list[int]:
    return [int(r.get_attribute("data-id")) for r in page.query_selector_all("[data-testid=table-row]")]


def test_values_are_edited_with_the_keyboard(webui):
    page, server, project = webui
    project.create_property("note", "text")
    project.create_property("category", "multi-tag")
    project.create_tag("category", "portrait")
    _open_table(page)
    ids = _row_ids(page)
    assert ids == project.query_ids(None)[:len(ids)]

    page.click("[data-testid=table-row] >> nth=0 >> [data-testid=table-cell][data-column=note]")
    page.keyboard.type("first")          # typing starts editing, as in a spreadsheet
    page.keyboard.press("Enter")         # saves and moves down
    _closed(page)
    page.wait_for_selector("[data-testid=table-row] >> nth=0 >> [data-testid=table-cell][data-column=note]:has-text('first')")
    page.keyboard.press("Enter")         # edits the focused cell, now the second row's
    page.keyboard.type("second")
    page.keyboard.press("Tab")           # saves and moves right, to category
    _closed(page)
    page.wait_for_selector("[data-testid=table-row] >> nth=1 >> [data-testid=table-cell][data-column=note]:has-text('second')")
    page.keyboard.press("F2")
    page.keyboard.type("portr")
    page.wait_for_selector("[data-testid=value-suggestion]:has-text('portrait')")
    page.keyboard.press("Enter")         # the completed existing tag, saved
    _closed(page)
    page.wait_for_selector("[data-testid=table-row] >> nth=1 >> [data-testid=table-cell][data-column=category]:has-text('portrait')")
    page.keyboard.type("brand new")      # on the third row's category: Enter moved down
    page.keyboard.press("Escape")        # cancels: nothing written
    _closed(page)
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Delete")        # clears the note of the second row
    page.wait_for_selector("[data-testid=table-row] >> nth=1 >> [data-testid=table-cell][data-column=note]:text-is('')")
    screenshot(page, "table-edited")

    values = project.values(ids[:3], ["note", "category"])
    assert values[ids[0]] == {"note": "first"}
    assert values[ids[1]] == {"category": ["portrait"]}
    assert values[ids[2]] == {}
    assert [t["name"] for t in project.tags("category")] == ["portrait"]


def test_a_bad_value_is_refused_readably_and_the_editor_stays(webui, state_of):
    page, server, project = webui
    project.create_property("weight", "number")
    before = state_of(project)
    _open_table(page)
    page.click("[data-testid=table-row] >> nth=0 >> [data-testid=table-cell][data-column=weight]")
    page.keyboard.type("heavy")
    page.keyboard.press("Enter")
    error = page.wait_for_selector("[data-testid=message-error]")
    assert "not a number" in error.inner_text()
    assert page.is_visible("[data-testid=table-cell][data-column=weight] [data-testid=value-input]")
    assert state_of(project) == before


def test_a_header_click_sorts_and_shift_click_adds_a_key(webui):
    page, server, project = webui
    _open_table(page)
    page.click("[data-testid=table-header][data-column=name]")
    expected = project.query(sort=[{"property": "name"}])["ids"]
    page.wait_for_function("ids => [...document.querySelectorAll('[data-testid=table-row]')]"
                           ".slice(0, 5).every((r, i) => Number(r.dataset.id) === ids[i])", arg=expected[:5])
    page.click("[data-testid=table-header][data-column=name]")  # again: descending
    expected = project.query(sort=[{"property": "name", "desc": True}])["ids"]
    page.wait_for_function("ids => [...document.querySelectorAll('[data-testid=table-row]')]"
                           ".slice(0, 5).every((r, i) => Number(r.dataset.id) === ids[i])", arg=expected[:5])
    page.click("[data-testid=table-header][data-column=taken]", modifiers=["Shift"])
    page.wait_for_selector("[data-testid=table-header][data-column=taken]:has-text('2')")
    sort = [{"property": "name", "desc": True}, {"property": "taken"}]
    assert _row_ids(page) == project.query(sort=sort)["ids"][:len(_row_ids(page))]
