"""The talk's demo, walked end to end in a real Chromium at a laptop's size on real photographs: import a
folder with progress, group by month, filter, create a tag property, tag in place, cluster a group and
one of its clusters, tag a whole cluster, accept suggestions with the keyboard, tag the images similar to
one, undo, export the view as CSV, and find the duplicates. After each step the project itself is asked whether it holds what
the page showed. Each step leaves a screenshot in test-artifacts/demo-NN-*.png, and the steps the tutorial
shows leave one in docs/tutorial/ too."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest
from PIL import Image

import imagier
from imagier.demo import write_demo_photos
from live import LAPTOP, screenshot, served_page

pytestmark = pytest.mark.browser

WIDE = {"property": "width", "op": "ge", "value": 500}
TAG = "subject"
# The tutorial (docs/tutorial.md) shows these steps: a run saves one again when the page looks different.
TUTORIAL_IMAGES = Path(__file__).resolve().parents[1] / "docs" / "tutorial"
TUTORIAL_CHANGE = 0.02


@pytest.fixture
def demo_webui(chromium, tmp_path):
    """An empty project served on loopback, open at the laptop's size, and beside it (inside the folders
    the page may browse) the demo's 72 photographs, with EXIF dates spread over five years, not imported."""
    photos = tmp_path / "photos"
    write_demo_photos(photos)
    with imagier.open(tmp_path / "demo.imagier") as project, \
            served_page(chromium, project, accept_downloads=True) as (page, server):
        yield page, project, photos
        screenshot(page, "demo-last")  # where the walk ended, to see why when it stopped early


# ---- helpers ------------------------------------------------------------------------------------------

def tutorial_screenshot(page, name: str) -> None:
    """A step's screenshot in test-artifacts/, and in docs/tutorial/ for the tutorial
    (tests/test_docs_site.py checks that the tutorial shows exactly these). The tutorial's picture leaves
    out the passing messages, and is rewritten only when the page looks different (delete it to have it
    taken again), so that a clock or a temporary folder's name does not change a committed file on every run."""
    screenshot(page, name)
    TUTORIAL_IMAGES.mkdir(exist_ok=True)
    kept = TUTORIAL_IMAGES / f"{name}.jpg"
    # JPEG: a fifth of the PNG's size, for pictures committed again whenever the page changes
    taken = page.screenshot(type="jpeg", quality=85, style="[data-testid^=message-] { visibility: hidden; }")
    if not kept.exists() or looks_different(kept.read_bytes(), taken):
        kept.write_bytes(taken)


def looks_different(before: bytes, after: bytes) -> bool:
    """Whether two screenshots differ in more than TUTORIAL_CHANGE of their 8 x 8 pixel blocks: a block's
    mean is blind to a texture moved by a pixel, not to a panel or a layout that changed."""
    old, new = (np.asarray(Image.open(io.BytesIO(shot)).convert("L").reduce(8), dtype=np.int16)
                for shot in (before, after))
    return old.shape != new.shape or float((np.abs(old - new) > 24).mean()) > TUTORIAL_CHANGE


def page_is_sound(page) -> None:
    """No error message on the page; the page fits the laptop's screen (only its panels scroll, never the
    page as a whole); and no clipped box is scrolled out of place (no user could scroll it back)."""
    shown = page.locator("[data-testid=message-error]")
    assert shown.count() == 0, f"the page shows an error: {shown.all_inner_texts()}"
    width, height = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    assert width <= LAPTOP["width"] and height <= LAPTOP["height"], f"the page is {width} x {height}"
    shifted = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter((e) => (e.scrollTop > 0 || e.scrollLeft > 0) && !/auto|scroll/.test(getComputedStyle(e).overflow))
        .map((e) => e.className)""")
    assert not shifted, f"clipped boxes scrolled out of place: {shifted}"


def count_is(page, expected: int) -> None:
    page.wait_for_selector(f"[data-testid=view-count]:text-is('{expected} images')")


def view_in_address(page) -> dict:
    return json.loads(unquote(page.evaluate("location.hash"))[len("#view="):])


def tile_ids(page) -> list[int]:
    """The ids of the tiles in the page (what is on screen and a little more), in the grid's order."""
    page.wait_for_selector("[data-testid=tile]")
    tiles = page.eval_on_selector_all(
        "[data-testid=tile]", "els => els.map(e => [Number(e.dataset.index), Number(e.dataset.id)])")
    return [id_ for _, id_ in sorted(tiles)]


def header(page, key: str, depth: int = 0):
    return page.locator(f"[data-testid=group-header][data-depth='{depth}'][data-key='{key}']")


def scroll_to(page, locator, room: float = 0) -> None:
    """Scroll the grid with the mouse wheel until the element is on screen, as a user would (Playwright's
    own scrolling would scroll the grid's clipped inner box instead, which no user can do)."""
    locator.wait_for(state="attached")
    for _ in range(40):
        if on_screen(page, locator, room):
            return
        grid = page.locator("[data-testid=grid-scroller]").bounding_box()
        page.mouse.move(grid["x"] + grid["width"] / 2, grid["y"] + grid["height"] / 2)
        page.mouse.wheel(0, 150 if locator.bounding_box()["y"] > grid["y"] else -150)
        page.wait_for_timeout(30)
    assert on_screen(page, locator, room), "the grid scrolls to it"


def group_menu(page, head, label: str) -> None:
    """Open a group header's menu (room for it below the header: the grid clips it) and choose an entry."""
    scroll_to(page, head, room=220)
    head.locator("[data-testid=group-menu]").click()
    page.locator("[data-testid=group-menu-list] button", has_text=label).click()


def cluster(page, k: int) -> None:
    """Fill the clustering form that a group's "Create clusters…" opened: k-means with k clusters."""
    form = page.locator("[data-testid=cluster-form]")
    form.wait_for()
    form.locator("[data-testid=cluster-method]").select_option("kmeans")
    form.locator("[data-testid=cluster-auto]").uncheck()
    form.locator("[data-testid=cluster-k]").fill(str(k))
    form.locator("[data-testid=cluster-run]").click()
    form.wait_for(state="detached")


def top_groups(page) -> list[tuple[str, int]]:
    """The outermost groups' keys and counts in the order they are on screen (the grid reuses its rows,
    so the DOM's order is not the screen's)."""
    found = page.eval_on_selector_all("[data-testid=group-header][data-depth='0']", """els => els
        .map((e) => [e.getBoundingClientRect().top, e.dataset.key,
                     Number(e.querySelector('[data-testid=group-count]').textContent.replace(/,/g, ''))])""")
    return [(key, count) for _, key, count in sorted(found)]


def on_screen(page, locator, room: float = 0) -> bool:
    """Whether the element lies inside the grid's visible area, with `room` pixels to spare below it."""
    box, grid = locator.bounding_box(), page.locator("[data-testid=grid-scroller]").bounding_box()
    return box is not None and grid["y"] - 1 <= box["y"] \
        and box["y"] + box["height"] + room <= grid["y"] + grid["height"] + 1


def cluster_members(page, sizes: list[int]) -> list[list[int]]:
    """The ids of each top-level cluster: the overlay lists clusters one after the other, so a cluster's
    images are the tiles whose result index falls in its span."""
    page.wait_for_selector("[data-testid=tile]")
    tiles = sorted(page.eval_on_selector_all(
        "[data-testid=tile]", "els => els.map(e => [Number(e.dataset.index), Number(e.dataset.id)])"))
    assert [index for index, _ in tiles] == list(range(sum(sizes))), "every cluster's tiles are in the page"
    spans, start = [], 0
    for size in sizes:
        spans.append([id_ for index, id_ in tiles[start:start + size]])
        start += size
    return spans


def tagged(project, tag: str) -> list[int]:
    return project.query_ids({"property": TAG, "op": "has_any", "value": [tag]})


# ---- the walk -----------------------------------------------------------------------------------------

def test_the_demo_walk(demo_webui):
    page, project, photos = demo_webui
    page.set_default_timeout(10_000)  # a step that fails says so in seconds, not half a minute
    page.wait_for_selector("[data-testid=Grid]")
    assert project.file_count() == 0

    # 1. Import the folder of photographs through the Import dialog, picked in the folder browser, with
    #    its progress, embedding included (clusters and similarity need vectors).
    page.click("[data-testid=project-menu]")
    page.click("[data-testid=project-import]")
    dialog = page.locator("[data-testid=import-dialog]")
    dialog.locator("[data-testid=folder-entry]").first.wait_for()  # the allowed folders, listed first
    dialog.locator("[data-testid=import-path]").fill(str(photos.parent))
    dialog.locator("[data-testid=import-browse]").click()
    dialog.locator("[data-testid=folder-entry][data-name=photos]").click()
    dialog.locator("[data-testid=folder-path]").filter(has_text=str(photos)).wait_for()
    assert dialog.locator("[data-testid=import-path]").input_value() == str(photos)
    assert dialog.locator("[data-testid=import-embed]").is_checked()
    tutorial_screenshot(page, "demo-01-import-dialog")
    dialog.locator("[data-testid=import-start]").click()
    dialog.locator("[data-testid=job-progress]").wait_for()
    screenshot(page, "demo-01-import-progress")
    dialog.locator("[data-testid=job-phase]").filter(has_text="embedding").wait_for(timeout=60_000)
    screenshot(page, "demo-01-embedding-progress")
    report = dialog.locator("[data-testid=import-report]")
    report.wait_for(timeout=60_000)
    assert "Added 72" in report.inner_text()
    assert project.file_count() == 72
    assert project.info()["vectors"]["efficientnet-lite0"]["count"] == 72
    dialog.locator("[data-testid=import-close]").click()
    dialog.wait_for(state="detached")
    count_is(page, 72)
    page.wait_for_selector("[data-testid=tile-image]")
    page_is_sound(page)
    tutorial_screenshot(page, "demo-01-imported")

    # 2. Group by the date taken, by month.
    page.click("[data-testid=group-add]")
    page.locator("[data-testid=group-property]").select_option("taken")
    page.locator("[data-testid=group-by]").select_option("month")
    months = project.query(group=[{"property": "taken", "by": "month"}])["groups"]
    page.wait_for_selector(f"[data-testid=grid-count]:has-text('72 images in {len(months)} groups')")
    first = months[0]
    head = header(page, first["key"])
    assert head.locator("[data-testid=group-count]").inner_text() == str(first["count"])
    assert view_in_address(page)["group"] == [{"property": "taken", "by": "month"}]
    page_is_sound(page)
    tutorial_screenshot(page, "demo-02-grouped-by-month")

    # 3. Filter: only the wider photographs.
    page.click("[data-testid=filter-add]")
    condition = page.locator("[data-testid=filter-condition]").first
    condition.locator("[data-testid=filter-property]").select_option("width")
    condition.locator("[data-testid=filter-op]").select_option("ge")
    condition.locator("[data-testid=filter-value]").fill("500")
    wide = project.query_ids(WIDE)
    assert 0 < len(wide) < 72
    count_is(page, len(wide))
    assert view_in_address(page)["filter"] == WIDE
    assert set(tile_ids(page)) <= set(wide)
    page_is_sound(page)
    tutorial_screenshot(page, "demo-03-filtered")

    # 4. A multi-tag property, created in the properties panel (and shown under the thumbnails).
    page.click("[data-testid=property-new]")
    page.fill("[data-testid=property-create-name]", TAG)
    page.locator("[data-testid=property-create-type]").select_option("multi-tag")
    page.click("[data-testid=property-create]")
    page.wait_for_selector(f"[data-testid=property-row][data-property={TAG}]")
    assert {"name": TAG, "type": "multi-tag"}.items() <= next(
        p for p in project.properties() if p["name"] == TAG).items()
    page.wait_for_selector(f"[data-testid=tile] [data-property={TAG}]")
    tutorial_screenshot(page, "demo-04-property-created")

    # 5. Tag two images in place, under their thumbnails: a new tag, then the same one completed.
    first_two = tile_ids(page)[:2]
    assert [f["name"] for f in project.files(first_two)] == ["astronaut.jpg"] * 2
    for number, id_ in enumerate(first_two):
        value = page.locator(f"[data-testid=tile][data-id='{id_}'] [data-property={TAG}]")
        scroll_to(page, value)
        value.click()
        editor = page.locator("[data-testid=tile-editor] [data-testid=value-input]")
        if number == 0:
            editor.fill("astronaut")
        else:
            editor.press_sequentially("astro")
            page.wait_for_selector("[data-testid=value-suggestion]:has-text('astronaut')")
        page.keyboard.press("Enter")
        page.wait_for_selector("[data-testid=tile-editor]", state="detached")
    page.locator(f"[data-testid=tile][data-id='{first_two[1]}'] [data-property={TAG}]:text-is('astronaut')").wait_for()
    assert tagged(project, "astronaut") == sorted(first_two)
    assert [t["name"] for t in project.tags(TAG)] == ["astronaut"]
    page_is_sound(page)
    tutorial_screenshot(page, "demo-05-tagged-in-place")

    # 6. Cluster a group: the photographs of one year (a month holds one or two, too few to cluster).
    page.locator("[data-testid=group-by]").select_option("year")
    years = project.query(filter=WIDE, group=[{"property": "taken", "by": "year"}])["groups"]
    year = max(years, key=lambda g: g["count"])
    in_year = project.query_ids({"and": [WIDE, {"property": "taken", "op": "eq", "value": year["key"]}]})
    group_menu(page, header(page, year["key"]), "Create clusters")
    cluster(page, 3)
    page.wait_for_selector("[data-testid=overlay-title]:has-text('3 clusters of')")
    clusters = top_groups(page)
    assert len(clusters) == 3
    assert on_screen(page, header(page, clusters[0][0])), "the clusters are shown from their top"
    sizes = [count for _, count in clusters]
    assert sum(sizes) == len(in_year)
    assert sorted(tile_ids(page)) == sorted(in_year)  # every image of the year, each in one cluster
    page_is_sound(page)
    tutorial_screenshot(page, "demo-06-clusters")

    # 7. Sub-cluster the largest cluster: its sub-clusters nest under it.
    big = max(range(3), key=lambda n: sizes[n])
    big_key = clusters[big][0]
    before = cluster_members(page, sizes)[big]
    group_menu(page, header(page, big_key), "Create clusters")
    cluster(page, 2)
    subs = page.locator("[data-testid=group-header][data-depth='1']")
    subs.first.wait_for()
    assert subs.count() == 2
    assert all(key.startswith(big_key + ".") for key in subs.evaluate_all("els => els.map(e => e.dataset.key)"))
    assert sum(int(n) for n in subs.locator("[data-testid=group-count]").all_inner_texts()) == sizes[big]
    assert sorted(cluster_members(page, sizes)[big]) == sorted(before)
    page_is_sound(page)
    tutorial_screenshot(page, "demo-07-sub-clusters")

    # 8. Tag a whole cluster at once from its header.
    other = next(n for n in range(3) if n != big)
    members = cluster_members(page, sizes)[other]
    group_menu(page, header(page, clusters[other][0]), "Set value")
    page.locator("[data-testid=set-value-property]").select_option(TAG)
    page.locator("[data-testid=set-value-editor] [data-testid=value-input]").fill("look-alike")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-testid=set-value-dialog]", state="detached")
    assert tagged(project, "look-alike") == sorted(members)
    shown = page.locator(f"[data-testid=tile][data-id='{members[-1]}'] [data-property={TAG}]")
    scroll_to(page, shown)
    shown.filter(has_text="look-alike").wait_for()
    page_is_sound(page)
    tutorial_screenshot(page, "demo-08-cluster-tagged")

    # 9. Suggestions for the new tag's group, two accepted with the keyboard alone.
    page.click("[data-testid=overlay-close]")
    page.locator("[data-testid=group-property]").select_option(TAG)
    group_menu(page, header(page, "look-alike"), "Suggestions")
    cards = page.locator("[data-testid=suggestion]")
    cards.first.wait_for()
    proposed = [int(cards.nth(n).get_attribute("data-id")) for n in range(2)]
    assert not set(proposed) & set(members)
    page.keyboard.press("a")
    page.wait_for_selector("[data-testid=suggestions-tally]:has-text('1 accepted')")
    page.keyboard.press("a")
    page.wait_for_selector("[data-testid=suggestions-tally]:has-text('2 accepted')")
    assert tagged(project, "look-alike") == sorted(members + proposed)
    page.wait_for_selector(f"[data-testid=group-header][data-key='look-alike'] "
                           f"[data-testid=group-count]:text-is('{len(set(members + proposed) & set(wide))}')")
    page_is_sound(page)
    tutorial_screenshot(page, "demo-09-suggestions-accepted")
    page.keyboard.press("Escape")
    page.wait_for_selector("[data-testid=suggestions]", state="detached")

    # 10. Open an image and tag the images similar to it above the slider's score.
    opened = tile_ids(page)[0]
    scroll_to(page, page.locator(f"[data-testid=tile][data-id='{opened}']"))
    page.locator(f"[data-testid=tile][data-id='{opened}']").dblclick()
    page.wait_for_selector("[data-testid=detail-image]")
    similar = page.locator("[data-testid=detail-similar-item]")
    similar.nth(4).wait_for()
    scores = [float(s) for s in similar.evaluate_all("els => els.map(e => e.dataset.score)")]
    threshold = round(scores[3] - 0.0005, 3)  # the slider's step is 0.005: pick the 4th best score or so
    page.locator("[data-testid=detail-min-score]").fill(str(threshold))
    value = float(page.locator("[data-testid=detail-min-score]").input_value())
    above = [int(e) for e, s in zip(similar.evaluate_all("els => els.map(e => e.dataset.id)"), scores) if s >= value]
    assert 0 < len(above) < len(scores) and opened not in above
    page.wait_for_selector(f"[data-testid=detail-above]:has-text('{len(above)} of')")
    assert page.locator("[data-testid=detail-apply-property]").input_value() == TAG
    page.locator("[data-testid=detail-apply] [data-testid=value-input]").fill("like it")
    page.click("[data-testid=detail-apply-run]")
    page.wait_for_selector("[data-testid=message-info]:has-text('given to')")
    assert tagged(project, "like it") == sorted(above)
    # After the write the detail still shows the original and every similar image's thumbnail.
    page.wait_for_selector("[data-testid=detail-image]")
    page.wait_for_function("""n => [...document.querySelectorAll('[data-testid=detail-similar-item]')].slice(0, n)
        .every((e) => { const img = e.querySelector('img'); return img && img.complete && img.naturalWidth > 0; })""",
                           arg=len(above) + 2)
    page_is_sound(page)
    tutorial_screenshot(page, "demo-10-similar-tagged")
    page.keyboard.press("Escape")
    page.wait_for_selector("[data-testid=detail]", state="detached")

    # 11. Undo (Ctrl+Z) takes the last action back, in the project too; the history shows it undone.
    header(page, "like it").wait_for()
    page.keyboard.press("Control+z")
    header(page, "like it").wait_for(state="detached")
    assert "like it" not in [t["name"] for t in project.tags(TAG)]  # the tag it created went too
    assert tagged(project, "look-alike") == sorted(members + proposed)
    newest = project.history()[0]
    assert newest["state"] == "undone"
    page.click("[data-testid=history-toggle]")
    undone = page.locator("[data-testid=history-item]").first
    assert undone.get_attribute("data-state") == "undone"
    assert newest["label"] in undone.inner_text()
    page_is_sound(page)
    tutorial_screenshot(page, "demo-11-undone")
    page.click("[data-testid=history-toggle]")

    # 12. Export the view as CSV: its images, with the tags given above.
    page.click("[data-testid=project-menu]")
    export = page.locator("[data-testid=project-export-csv]")
    assert f"({len(wide)} rows)" in export.inner_text()
    tutorial_screenshot(page, "demo-12-export")
    with page.expect_download() as download:
        page.click("[data-testid=project-export-csv]")
    rows = list(csv.reader(io.StringIO(open(download.value.path(), encoding="utf-8").read())))
    assert rows[0][0] == "path" and f"{TAG}[multi-tag]" in rows[0]
    column = rows[0].index(f"{TAG}[multi-tag]")
    files = {f["path"]: f["id"] for f in project.files(wide)}
    assert sorted(row[0] for row in rows[1:]) == sorted(files)
    exported = {files[row[0]]: sorted(t for t in row[column].split(",") if t) for row in rows[1:]}
    expected = project.values(wide, [TAG])
    assert exported == {i: sorted(expected[i].get(TAG) or []) for i in wide}
    assert sorted(i for i, tags in exported.items() if "astronaut" in tags) == sorted(first_two)
    assert {i for i, tags in exported.items() if "look-alike" in tags} == set(members + proposed) & set(wide)
    assert not any("like it" in tags for tags in exported.values())
    page_is_sound(page)

    # 13. The duplicates view finds the copies of one picture among the photographs the view shows.
    groups = project.duplicates(filter=WIDE)
    assert groups, "the demo's photographs hold copies of one picture"
    page.get_by_test_id("mode-duplicates").click()
    page.get_by_test_id("duplicates-find").click()
    found = page.get_by_test_id("duplicates-count")
    found.wait_for(timeout=120_000)
    assert found.inner_text().startswith(f"{len(groups)} group")
    # every copy on screen named and its thumbnail drawn (a card shows grey boxes until then)
    page.wait_for_function("""() => { const copies = [...document.querySelectorAll('[data-testid=duplicate-copy]')]
        .filter((c) => c.getBoundingClientRect().top < innerHeight);
        return copies.length > 0 && copies.every((c) => c.querySelector('[data-testid=duplicate-name]').textContent.trim()
            && [...c.querySelectorAll('img')].length === 1 && c.querySelector('img').complete
            && c.querySelector('img').naturalWidth > 0); }""")
    page_is_sound(page)
    tutorial_screenshot(page, "demo-13-duplicates")
