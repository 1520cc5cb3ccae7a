"""The image detail in a real Chromium: moving with the arrows, the similar images with their scores, a
value given to those above the slider in one undoable operation, checked in the project."""

import pytest

from live import eventually, screenshot

pytestmark = pytest.mark.browser


def _open_detail(page, row=0):
    page.click("[data-testid=mode-table]")
    page.dblclick(f"[data-testid=table-row] >> nth={row} >> [data-testid=table-thumb]")
    page.wait_for_selector("[data-testid=detail] [data-testid=detail-similar-item] img")


def test_the_detail_moves_with_the_arrows_and_closes_with_escape(webui):
    page, server, project = webui
    ids = project.query_ids(None)
    names = {f["id"]: f["name"] for f in project.files(ids)}
    _open_detail(page, 1)
    page.wait_for_selector(f"[data-testid=detail-name]:text-is('{names[ids[1]]}')")
    assert page.inner_text("[data-testid=detail-position]").startswith("2 /")
    page.keyboard.press("ArrowRight")
    page.wait_for_selector(f"[data-testid=detail-name]:text-is('{names[ids[2]]}')")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    page.wait_for_selector(f"[data-testid=detail-name]:text-is('{names[ids[0]]}')")
    page.wait_for_selector("[data-testid=detail-image]")
    page.keyboard.press("+")
    page.wait_for_function("() => document.querySelector('[data-testid=detail-fit]').className.indexOf('active') < 0")
    screenshot(page, "detail-opened")
    page.keyboard.press("Escape")
    page.wait_for_selector("[data-testid=detail]", state="detached")


def test_a_tag_is_given_to_the_similar_images_above_the_slider_and_undone(webui):
    page, server, project = webui
    project.create_property("category", "multi-tag")
    page.reload()
    _open_detail(page)
    items = page.query_selector_all("[data-testid=detail-similar-item]")
    similar = [(int(i.get_attribute("data-id")), float(i.get_attribute("data-score"))) for i in items]
    scores = [score for _, score in similar]
    assert len(similar) >= 5 and all(0 <= s <= 1 for s in scores) and scores == sorted(scores, reverse=True)
    assert scores[2] > scores[3], "the photographs should give distinct scores"

    threshold = (scores[2] + scores[3]) / 2
    page.fill("[data-testid=detail-min-score]", str(threshold))
    expected = {i for i, score in similar if score >= float(page.inner_text("[data-testid=detail-min-score-value]"))}
    assert len(expected) == 3
    page.wait_for_selector("[data-testid=detail-above]:has-text('3 of')")

    page.select_option("[data-testid=detail-apply-property]", "category")
    page.fill("[data-testid=detail-apply] [data-testid=value-input]", "near")
    page.click("[data-testid=detail-apply-run]")
    page.wait_for_selector("[data-testid=message-info]:has-text('given to 3')")
    assert set(project.query_ids({"property": "category", "op": "has_any", "value": ["near"]})) == expected
    page.wait_for_load_state("networkidle")
    messages = page.locator("[data-testid=message-info]").all_inner_texts()
    assert len(messages) == 1, f"one action, one message: {messages}"
    # Once the page has re-read what the write changed, the original is still shown (not the blurry
    # thumbnail) and every similar image still has its thumbnail.
    page.wait_for_load_state("networkidle")
    assert "hidden" not in page.get_attribute("[data-testid=detail-image]", "class")
    shown = page.locator("[data-testid=detail-similar-item] img").count()
    assert shown == page.locator("[data-testid=detail-similar-item]").count() == len(similar)
    screenshot(page, "detail-similar-tagged")

    page.keyboard.press("Control+z")
    # Undo takes back the values and the tag the operation created.
    eventually(lambda: all(v == {} for v in project.values(list(expected), ["category"]).values()))
    assert project.tags("category") == []
