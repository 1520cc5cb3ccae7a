"""Plugins in a real Chromium: a folder plugin appears after "Reload", its forms are drawn from the
signatures, are filled and run; a group action's groups, a similar action's ranking and an execute
action's change show in the page and in the project, and a failing plugin's error is shown."""

from __future__ import annotations


import pytest

from live import screenshot

pytestmark = pytest.mark.browser

SHADE = '''
from typing import Annotated, Literal
import numpy as np
from imagier.plugins import Property, Range, action
from imagier.vectors.registry import Embedder

def _brightness(image):
    return float(np.asarray(image.convert("L"), dtype=np.float32).mean() / 255)

@action(kind="group", label="Split by brightness")
def split(ctx, parts: Annotated[int, Range(2, 6)] = 3) -> list[dict]:
    """Groups from the darkest images to the brightest.

    Args:
        parts: how many groups.
    """
    ranked = [i for _, i in sorted((_brightness(im), i) for i, im in ctx.images())]
    return [{"name": f"shade {n + 1}", "ids": [int(i) for i in chunk]}
            for n, chunk in enumerate(np.array_split(np.array(ranked), parts)) if len(chunk)]

@action(kind="similar", label="Same brightness")
def closest(ctx, top_k: Annotated[int, Range(1, 50)] = 5) -> list[dict]:
    """The images whose brightness is closest to the chosen ones'."""
    wanted = np.mean([_brightness(im) for _, im in ctx.images()])
    others = [i for i in ctx.project.query_ids(ctx.filter) if i not in set(ctx.ids)]
    scored = sorted(((1 - abs(_brightness(im) - wanted), i) for i, im in ctx.images(others)), reverse=True)
    return [{"id": i, "score": s} for s, i in scored[:top_k]]

@action(kind="execute", label="Mark")
def mark(ctx, word: str, into: Property["multi-tag"], loud: bool = False,
         style: Literal["plain", "fancy"] = "plain") -> dict:
    """Add a tag to the images.

    Args:
        word: the tag.
        into: the multi-tag property that receives it.
    """
    tag = word.upper() if loud else word
    ctx.project.add_values(into, ctx.ids, [tag if style == "plain" else f"~{tag}~"])
    return {"message": f"marked {len(ctx.ids)} images with {tag}"}

class Tone(Embedder):
    name = "tone"
    model = "shade tone 1"
    dim = 2
    dtype = "float32"
    metric = "cosine"

    def embed(self, images):
        grey = [np.asarray(im.convert("L"), dtype=np.float32) / 255 for im in images]
        return np.array([[g.mean() + 0.01, g.std() + 0.01] for g in grey], dtype=np.float32)

@action(kind="embed", label="Embed tones")
def tones(ctx):
    """Each image's brightness and contrast as a vector type "tone"."""
    return Tone()

@action(kind="execute")
def explode(ctx) -> dict:
    """Fail after writing."""
    ctx.project.add_values("subject", ctx.ids, ["boom"])
    raise RuntimeError("no engine")
'''


def open_form(page, action: str) -> None:
    page.get_by_test_id("plugin-form").wait_for()
    page.get_by_test_id("plugin-action").select_option(action)


def run(page) -> None:
    page.get_by_test_id("plugin-run").click()


def test_plugin_forms_run_each_kind_and_show_their_results(webui):
    page, server, project = webui
    project.create_property("subject", "multi-tag")
    folder = project.path.parent / "plugins"
    folder.mkdir()
    (folder / "shade.py").write_text(SHADE)
    (folder / "broken.py").write_text("raise ImportError('the plugin needs tesseract')\n")
    page.get_by_test_id("plugin-reload").click()
    page.get_by_test_id("plugin-errors").wait_for()
    assert "the plugin needs tesseract" in page.get_by_test_id("plugin-errors").text_content()

    # group, on the whole view: a number field with bounds, groups shown like clusters
    page.get_by_test_id("plugin-run-view").click()
    open_form(page, "shade.split")
    parts = page.get_by_test_id("plugin-field-parts")
    assert (parts.get_attribute("min"), parts.get_attribute("max"), parts.input_value()) == ("2", "6", "3")
    assert "how many groups." in page.get_by_test_id("plugin-form").inner_text()
    parts.fill("2")
    screenshot(page, "plugins-form")
    run(page)
    page.get_by_test_id("plugin-form").wait_for(state="detached")
    page.get_by_test_id("overlay-banner").wait_for()
    headers = page.locator("[data-testid=group-header]")
    assert [headers.nth(i).get_by_test_id("group-key").inner_text() for i in range(headers.count())] == \
        ["shade 1", "shade 2"]
    screenshot(page, "plugins-groups")

    # execute, on a group of the overlay: a text, a property picker limited to multi-tag, a checkbox, a choice
    headers.first.get_by_test_id("group-menu").click()
    page.get_by_test_id("group-action").filter(has_text="Run plugin…").click()
    open_form(page, "shade.mark")
    into = page.get_by_test_id("plugin-field-into")
    assert into.locator("option").all_inner_texts() == ["choose a property…", "ImageNet guess (multi-tag)",
                                                        "subject (multi-tag)"]
    page.get_by_test_id("plugin-field-word").fill("dim")
    into.select_option("subject")
    page.get_by_test_id("plugin-field-loud").check()
    page.get_by_test_id("plugin-field-style").select_option("fancy")
    run(page)
    page.get_by_test_id("plugin-form").wait_for(state="detached")
    page.get_by_test_id("message-info").filter(has_text="with DIM").wait_for()
    marked = [i for i, v in project.values(project.query_ids()).items() if v.get("subject") == ["~DIM~"]]
    assert 0 < len(marked) < project.file_count()
    assert project.history(1)[0]["label"] == "Mark (shade.mark)"

    # similar, on the selection: a ranked overlay with scores
    page.get_by_test_id("overlay-close").click()
    page.locator("[data-testid=tile]").first.click()
    page.get_by_test_id("selection-action").filter(has_text="Run plugin…").click()
    open_form(page, "shade.closest")
    page.get_by_test_id("plugin-field-top_k").fill("4")
    run(page)
    page.get_by_test_id("plugin-form").wait_for(state="detached")
    page.get_by_test_id("overlay-banner").filter(has_text="Same brightness").wait_for()
    assert page.locator("[data-testid=tile]").count() == 4
    assert page.locator("[data-testid=tile-score]").count() == 4
    screenshot(page, "plugins-similar")

    # embed, on the whole view: a new vector type, filled for every image
    page.get_by_test_id("overlay-close").click()
    page.get_by_test_id("plugin-run-view").click()
    open_form(page, "shade.tones")
    run(page)
    page.get_by_test_id("plugin-form").wait_for(state="detached")
    page.get_by_test_id("message-info").filter(has_text="embedded").wait_for()
    assert project.vector_type("tone")["count"] == project.content_count()

    # a failing plugin: its error is shown, the form stays open, the project is unchanged
    before = project.values(project.query_ids())
    page.get_by_test_id("plugin-run-view").click()
    open_form(page, "shade.explode")
    run(page)
    page.get_by_test_id("message-error").filter(has_text="RuntimeError: no engine").wait_for()
    assert "nothing was saved" in page.get_by_test_id("message-error").last.inner_text()
    assert page.get_by_test_id("plugin-form").is_visible()
    assert project.values(project.query_ids()) == before
