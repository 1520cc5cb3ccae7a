"""The properties panel and the tag manager in a real Chromium, checked in the project afterwards."""

import pytest

from live import eventually, screenshot

pytestmark = pytest.mark.browser


def _names(project) -> set[str]:
    return {p["name"] for p in project.properties()}


def _tags(project, prop) -> dict[str, dict]:
    return {t["name"]: t for t in project.tags(prop)}


def test_create_rename_delete_and_undo_a_property(webui):
    page, server, project = webui
    page.click("[data-testid=property-new]")
    page.fill("[data-testid=property-create-name]", "category")
    page.select_option("[data-testid=property-create-type]", "multi-tag")
    page.click("[data-testid=property-create]")
    page.wait_for_selector("[data-testid=property-row][data-property=category]")
    assert project.property("category")["type"] == "multi-tag"
    # A new property is shown at once (a checked box, so a table column and a line under the thumbnails).
    assert page.is_checked("[data-testid=property-row][data-property=category] [data-testid=property-show]")
    screenshot(page, "properties-created")

    page.click("[data-testid=property-row][data-property=category] [data-testid=property-rename]")
    page.fill("[data-testid=property-rename-input]", "kind")
    page.press("[data-testid=property-rename-input]", "Enter")
    page.wait_for_selector("[data-testid=property-row][data-property=kind]")
    assert "kind" in _names(project) and "category" not in _names(project)

    page.click("[data-testid=property-row][data-property=kind] [data-testid=property-delete]")
    page.click("[data-testid=property-delete-confirm]")
    page.wait_for_selector("[data-testid=property-row][data-property=kind]", state="detached")
    assert "kind" not in _names(project)
    page.keyboard.press("Control+z")
    page.wait_for_selector("[data-testid=property-row][data-property=kind]")
    assert project.property("kind")["type"] == "multi-tag"


def test_a_duplicate_property_name_is_refused_readably(webui):
    page, server, project = webui
    before = project.properties()
    page.click("[data-testid=property-new]")
    page.fill("[data-testid=property-create-name]", "ImageNet guess")
    page.click("[data-testid=property-create]")
    error = page.wait_for_selector("[data-testid=message-error]")
    assert "ImageNet guess" in error.inner_text()
    assert project.properties() == before
    # The form stays open with the name, to be corrected.
    assert page.input_value("[data-testid=property-create-name]") == "ImageNet guess"


def _open_manager(page, project, prop="category"):
    page.reload()  # the tags were made through the API after the page opened
    page.click(f"[data-testid=property-row][data-property={prop}] [data-testid=property-tags]")
    page.wait_for_selector("[data-testid=tag-manager] [data-testid=tag-row]")


def _row(name: str) -> str:
    return f"[data-testid=tag-manager] [data-testid=tag-row][data-tag='{name}']"


def test_tag_manager_renames_colours_parents_and_merges(webui):
    page, server, project = webui
    project.create_property("category", "multi-tag")
    for name in ("cat", "dog", "hound", "animal"):
        project.create_tag("category", name)
    ids = project.query_ids(None)
    project.add_values("category", ids[:2], ["dog"])
    project.add_values("category", ids[2:5], ["hound"])
    _open_manager(page, project)

    page.click(f"{_row('cat')} [data-testid=tag-rename]")
    page.fill("[data-testid=tag-rename-input]", "feline")
    page.press("[data-testid=tag-rename-input]", "Enter")
    page.wait_for_selector(_row("feline"))
    assert "feline" in _tags(project, "category") and "cat" not in _tags(project, "category")

    page.fill(f"{_row('feline')} [data-testid=tag-colour]", "#123456")
    eventually(lambda: _tags(project, "category")["feline"]["colour"] == "#123456")

    animal = _tags(project, "category")["animal"]["id"]
    page.select_option(f"{_row('feline')} [data-testid=tag-parent-add]", str(animal))
    page.wait_for_selector(f"{_row('feline')} [data-testid=tag-parent]:has-text('animal')")
    assert _tags(project, "category")["feline"]["parents"] == [animal]

    page.check(f"{_row('dog')} [data-testid=tag-check]")
    page.check(f"{_row('hound')} [data-testid=tag-check]")
    page.select_option("[data-testid=tag-merge-into]", label="dog")
    page.click("[data-testid=tag-merge]")
    page.wait_for_selector(_row("hound"), state="detached")
    tags = _tags(project, "category")
    assert "hound" not in tags and tags["dog"]["count"] == 5
    assert set(project.query_ids({"property": "category", "op": "has_any", "value": ["dog"]})) == set(ids[:5])
    screenshot(page, "properties-tag-manager")


def test_a_tag_cycle_is_refused_and_changes_nothing(webui, state_of):
    page, server, project = webui
    project.create_property("category", "multi-tag")
    project.create_tag("category", "animal")
    project.create_tag("category", "cat", parents=["animal"])
    before = state_of(project)
    _open_manager(page, project)
    cat = _tags(project, "category")["cat"]["id"]
    page.select_option(f"{_row('animal')} [data-testid=tag-parent-add]", str(cat))
    error = page.wait_for_selector("[data-testid=message-error]")
    assert "cycle" in error.inner_text()
    assert state_of(project) == before
    assert page.locator(f"{_row('animal')} [data-testid=tag-parent]").count() == 0
