"""The model's ImageNet guesses on the page (issue 10): not under the thumbnails unless asked, shown as
guesses (their own style, a "guess" marker, the probability on hover) wherever they appear, never offered as
a property to write, and deleted for good from the property panel. Real Chromium, real photographs."""

import pytest
from live import eventually, screenshot

from imagier.vectors.embed import GUESS_PROPERTY

pytestmark = pytest.mark.browser


def camera_id(project) -> int:
    return next(f["id"] for f in project.files(project.query_ids()) if f["path"].endswith("2021/camera.jpg"))


def guess_row(page):
    return page.locator(f"[data-testid=property-row][data-property='{GUESS_PROPERTY}']")


def test_guesses_are_hidden_by_default_and_shown_as_guesses_when_asked(webui):
    page, _, project = webui
    page.wait_for_selector("[data-testid=tile-image]")
    assert page.locator(f"[data-testid=tile-value][data-property='{GUESS_PROPERTY}']").count() == 0
    assert "guesses" in guess_row(page).inner_text()
    guess_row(page).get_by_test_id("property-show").check()
    camera = camera_id(project)
    expected = project.guesses([camera])[camera]
    assert [g["label"] for g in expected] == ["tripod"]
    line = page.locator(f"[data-testid=tile][data-id='{camera}'] [data-property='{GUESS_PROPERTY}']")
    guess = line.get_by_test_id("guess")
    page.wait_for_function("element => element.dataset.probability !== ''", arg=guess.element_handle())
    assert float(guess.get_attribute("data-probability")) == expected[0]["probability"]
    value = line.get_by_test_id("guess-value")
    assert value.evaluate("e => getComputedStyle(e).fontStyle") == "italic"
    assert value.inner_text().split() == ["GUESS", "tripod"]
    title = value.get_attribute("title")
    assert f"tripod (probability {round(expected[0]['probability'] * 100)}%)" in title and "guess" in title
    # an image without a confident guess says so, rather than showing nothing or an empty placeholder
    retina = next(f["id"] for f in project.files(project.query_ids()) if f["path"].endswith("retina.jpg"))
    assert page.locator(f"[data-testid=tile][data-id='{retina}'] [data-property='{GUESS_PROPERTY}']").inner_text() \
        == "no guess"
    screenshot(page, "guesses-shown")
    # the detail shows them the same way, and never offers them as the property to give similar images
    page.locator(f"[data-testid=tile][data-id='{camera}']").dblclick()
    detail = page.locator(f"[data-testid=detail-property][data-property='{GUESS_PROPERTY}']")
    assert detail.get_by_test_id("guess").inner_text() == "tripod"
    assert detail.locator("[data-testid=value-editor]").count() == 0


def test_the_guesses_are_no_write_target(webui):
    page, _, project = webui
    project.create_property("subject", "multi-tag")
    page.reload()
    page.locator("[data-testid=tile][data-index='0']").click()
    page.keyboard.press("t")
    options = page.get_by_test_id("tag-box-property").locator("option").all_inner_texts()
    assert options == ["subject"]


def test_deleting_the_guesses_is_for_good(webui):
    page, _, project = webui
    page.wait_for_selector("[data-testid=tile-image]")
    guess_row(page).get_by_test_id("property-delete").click()
    box = page.get_by_test_id("property-delete-confirm-box")
    assert "for good" in box.inner_text()
    box.get_by_test_id("property-delete-confirm").click()
    guess_row(page).wait_for(state="detached")
    page.get_by_test_id("message-info").filter(has_text="for good").wait_for()
    eventually(lambda: not project.machine_labels_enabled())
    assert GUESS_PROPERTY not in {p["name"] for p in project.properties()}
    project.embed("efficientnet-lite0")
    assert GUESS_PROPERTY not in {p["name"] for p in project.properties()}
    screenshot(page, "guesses-deleted")


def test_guesses_turned_off_are_turned_back_on_from_the_page(webui):
    page, _, project = webui
    project.delete_machine_labels()
    page.reload()
    page.wait_for_selector("[data-testid=tile-image]")
    assert guess_row(page).count() == 0
    off = page.get_by_test_id("guesses-off")
    off.get_by_test_id("guesses-enable").click()
    guess_row(page).wait_for()
    off.wait_for(state="detached")
    page.get_by_test_id("message-info").filter(has_text="Turned the ImageNet guesses on").wait_for()
    assert project.machine_labels_enabled()
    camera = camera_id(project)
    assert [g["label"] for g in project.guesses([camera])[camera]] == ["tripod"]
