"""The page's one dialog (Modal.svelte) in a real Chromium: how it closes, what it keeps from the page behind
it, and that a tall one fits the laptop's screen. Each dialog's own work is tested with its area."""

import io

import pytest
from PIL import Image

from live import screenshot

pytestmark = pytest.mark.browser


def _selected(page) -> int:
    return page.locator("[data-testid=tile][aria-selected=true]").count()


def _select_one_with_tags(page, project, count: int) -> None:
    """Give the project a multi-tag property "category" with COUNT tags, reload the page and select one image."""
    project.create_property("category", "multi-tag")
    for n in range(count):
        project.create_tag("category", f"tag {n:02}")
    page.reload()
    page.wait_for_selector("[data-testid=tile-image]")
    page.click("[data-testid=tile] >> nth=1")


def test_a_dialog_closes_on_a_click_outside_and_keeps_its_keys_from_the_page(webui):
    page, server, project = webui
    project.create_property("note", "text")
    _select_one_with_tags(page, project, 60)
    page.click("[data-testid=property-row][data-property=category] [data-testid=property-tags]")
    manager = page.locator("[data-testid=tag-manager]")
    manager.locator("[data-testid=tag-row] >> nth=59").wait_for(state="attached")

    # Sixty tags are taller than the screen: the list scrolls inside, the heading and its close stay in view.
    box = manager.bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= 768 and box["x"] + box["width"] <= 1366
    assert page.locator("[data-testid=tag-manager-close]").is_visible()
    close = page.locator("[data-testid=tag-manager-close]").bounding_box()
    assert 0 <= close["y"] and close["y"] + close["height"] <= 768
    screenshot(page, "modal-tall-tag-manager")

    # A single key pressed in the dialog is not a shortcut of the grid behind it ("t" opens the tag box).
    page.locator("[data-testid=tag-manager-close]").focus()
    page.keyboard.press("t")
    assert page.locator("[data-testid=tag-box]").count() == 0

    # Escape in a field that has its own Escape (renaming a tag) leaves that field, not the dialog.
    manager.locator("[data-testid=tag-rename] >> nth=0").click()
    page.wait_for_selector("[data-testid=tag-rename-input]")
    page.keyboard.press("Escape")
    page.wait_for_selector("[data-testid=tag-rename-input]", state="detached")
    assert manager.is_visible()

    # Selecting text by dragging from a field out onto the backdrop does not close it; a click there does.
    search = manager.locator("[data-testid=tag-search]").bounding_box()
    page.mouse.move(search["x"] + 5, search["y"] + 5)
    page.mouse.down()
    page.mouse.move(5, 5)
    page.mouse.up()
    assert manager.is_visible()
    page.mouse.click(5, 5)
    manager.wait_for(state="detached")
    assert _selected(page) == 1  # the click went to the backdrop, not to the grid under it
    assert [t["name"] for t in project.tags("category")][:1] == ["tag 00"]  # nothing renamed

    # Closed, the focus is back where it was: the button that opened the dialog.
    page.click("[data-testid=selection-set-value]")
    page.wait_for_selector("[data-testid=set-value-dialog][open]")
    page.locator("[data-testid=set-value-property]").select_option("note")  # no tag suggestions over the buttons
    page.locator("[data-testid=set-value-cancel]").click()
    page.wait_for_selector("[data-testid=set-value-dialog]", state="detached")
    assert page.evaluate("document.activeElement?.dataset.testid") == "selection-set-value"


def test_a_busy_dialog_stays_open_until_its_request_answers(webui, tmp_path):
    page, server, project = webui
    path = project.files(project.query_ids()[:1])[0]["path"]
    (tmp_path / "values.csv").write_text(f"path,note[text]\n{path},first\n")
    held = []
    page.route("**/api/import-csv", lambda route: held.append(route))
    page.wait_for_selector("[data-testid=view-count]:has-text('images')")
    page.click("[data-testid=project-menu]")
    page.click("[data-testid=project-import-csv]")
    page.set_input_files("[data-testid=csv-file]", str(tmp_path / "values.csv"))
    page.wait_for_function("document.body.innerText.includes('Reading…')")
    assert held, "the dry run was sent"

    # While the dry run is held, neither Escape nor a click outside closes the dialog.
    page.keyboard.press("Escape")
    page.mouse.click(5, 5)
    assert page.locator("[data-testid=csv-dialog]").is_visible()

    # The server's refusal is shown above the dialog (not dimmed behind it), which stays open to try again.
    held[0].fulfill(status=400, json={"error": "CsvError", "message": "row 1 is held up"})
    error = page.locator("[data-testid=message-error]:has-text('row 1 is held up')")
    error.wait_for()
    box = error.bounding_box()
    corner = Image.open(io.BytesIO(page.screenshot(clip={"x": box["x"] + box["width"] - 6, "y": box["y"] + 4,
                                                           "width": 1, "height": 1}))).convert("RGB")
    assert corner.getpixel((0, 0)) == (255, 255, 255), "the error's panel is white, not dimmed by the backdrop"
    assert page.locator("[data-testid=csv-dialog]").is_visible()
    screenshot(page, "modal-error-above")
    page.unroute("**/api/import-csv")
    page.set_input_files("[data-testid=csv-file]", [])
    page.set_input_files("[data-testid=csv-file]", str(tmp_path / "values.csv"))
    page.wait_for_selector("[data-testid=csv-preview]")
    page.keyboard.press("Escape")
    page.wait_for_selector("[data-testid=csv-dialog]", state="detached")
    assert "note" not in [p["name"] for p in project.properties()]


def test_a_form_opens_with_its_first_field_ready_for_the_keyboard(webui):
    page, server, project = webui
    page.get_by_test_id("cluster-view").click()
    page.wait_for_selector("[data-testid=cluster-form][open]")
    assert page.evaluate("document.activeElement?.dataset.testid") == "cluster-method"
    page.get_by_test_id("cluster-auto").uncheck()
    page.get_by_test_id("cluster-k").fill("2")
    page.keyboard.press("Enter")  # the dialog is a form: Enter in a field runs it
    page.get_by_test_id("cluster-form").wait_for(state="detached")
    page.get_by_test_id("overlay-action").filter(has_text="Save clusters as tags").click()
    page.wait_for_selector("[data-testid=cluster-save-form][open]")
    # the suggested name is selected: typing replaces it
    page.keyboard.type("visual")
    page.keyboard.press("Enter")
    page.get_by_test_id("cluster-save-form").wait_for(state="detached")
    assert {p["name"] for p in project.properties()} >= {"visual"}
    screenshot(page, "modal-form-saved")


def test_tag_suggestions_in_the_set_value_dialog_are_not_cut_off_by_its_edge(webui):
    page, server, project = webui
    _select_one_with_tags(page, project, 12)
    page.click("[data-testid=selection-set-value]")
    page.locator("[data-testid=set-value-property]").select_option("category")
    page.locator("[data-testid=set-value-dialog] [data-testid=value-input]").fill("tag")
    last = page.locator("[data-testid=value-suggestion]").last
    box = last.bounding_box()
    dialog = page.locator("[data-testid=set-value-dialog]").bounding_box()
    assert box["y"] > dialog["y"] + dialog["height"]  # the list reaches below the short dialog...
    hit = page.evaluate("([x, y]) => document.elementFromPoint(x, y)?.closest('[data-testid=value-suggestion]')"
                        "?.textContent.trim()", [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2])
    assert hit == last.inner_text().strip()  # ...and its last entry is there to click
    last.click()
    page.locator("[data-testid=set-value-dialog] [data-testid=value-input]").press("Enter")
    page.wait_for_selector("[data-testid=set-value-dialog]", state="detached")
    selected = int(page.locator("[data-testid=tile][aria-selected=true]").get_attribute("data-id"))
    assert project.values([selected], ["category"])[selected]["category"] == ["tag"]
