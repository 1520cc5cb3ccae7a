"""The grid in a real Chromium on real photographs: thumbnails, nested groups, selection by mouse and
keyboard, batch and in-place annotation (checked in the project itself), and a result too long to lay out
naively scrolled to its last image."""

import json
import shutil
from urllib.parse import quote

import pytest
import skimage.data
from live import screenshot, served_page
from PIL import Image

import imagier
from conftest import load_benchmark

pytestmark = pytest.mark.browser

BY_YEAR_AND_FORMAT = {"filter": None, "sort": [{"property": "path"}],
                      "group": [{"property": "taken", "by": "year"}, {"property": "format"}]}


def open_view(page, server, view):
    # The first load's query rewrites the address when it lands: it must land before the new address.
    page.wait_for_selector("[data-testid=tile-image]")
    page.goto(server.url + "/#view=" + quote(json.dumps(view)))
    page.reload()  # the fixture's page is already at "/": a new hash alone is no new page load
    page.wait_for_selector("[data-testid=group-header]" if view["group"] else "[data-testid=tile-image]")
    page.wait_for_selector("[data-testid=tile-image]")


def reopen(page):
    """Reload after changing the project behind the page's back (properties created through the API)."""
    page.reload()
    page.wait_for_selector("[data-testid=tile-image]")


def tile(page, index):
    return page.locator(f"[data-testid=tile][data-index='{index}']")


def selected_count(page):
    bar = page.locator("[data-testid=selection-count]")
    return int(bar.inner_text().split()[0].replace(",", "")) if bar.count() else 0


def ids_at(page, *indices):
    return [int(tile(page, i).get_attribute("data-id")) for i in indices]


def test_the_grid_shows_every_thumbnail_and_the_shown_values(webui):
    page, _, project = webui
    page.wait_for_selector("[data-testid=tile-image]")
    assert page.locator("[data-testid=tile]").count() == project.file_count()
    page.wait_for_function("""() => {
        const images = [...document.querySelectorAll('[data-testid=tile-image]')];
        return images.length > 0 && images.every((img) => img.complete && img.naturalWidth > 0);
    }""")
    # The model's guesses are not shown under the thumbnails unless asked (test_webui_guesses.py shows them).
    assert page.locator("[data-testid=tile-value][data-property='ImageNet guess']").count() == 0
    # Bigger thumbnails: fewer per row.
    per_row = page.locator("[data-testid=tile]").evaluate_all(
        "tiles => new Set(tiles.map((t) => t.getBoundingClientRect().top)).size")
    page.locator("[data-testid=thumb-size]").fill("320")
    page.wait_for_function(f"""() => new Set([...document.querySelectorAll('[data-testid=tile]')]
        .map((t) => t.getBoundingClientRect().top)).size > {per_row}""")
    screenshot(page, "grid-thumbnails")


def test_nested_groups_show_their_counts_and_collapse(webui):
    page, server, project = webui
    open_view(page, server, BY_YEAR_AND_FORMAT)
    result = project.query(**BY_YEAR_AND_FORMAT)
    top = result["groups"]
    headers = page.locator("[data-testid=group-header][data-depth='0']")
    assert headers.locator("[data-testid=group-key]").all_inner_texts()[:2] == [str(g["key"]) for g in top[:2]]
    year = headers.filter(has_text=str(top[0]["key"]))
    assert year.locator("[data-testid=group-count]").inner_text() == str(top[0]["count"])
    nested = page.locator("[data-testid=group-header][data-depth='1']")
    assert nested.count() >= len(top)
    inside = result["ids"][top[0]["start"]:top[0]["end"]]
    first_inside = f"[data-testid=tile][data-id='{inside[0]}']"
    assert page.locator(first_inside).is_visible()
    year.locator("[data-testid=group-toggle]").click()
    page.wait_for_selector(first_inside, state="detached")
    assert year.locator("[data-testid=group-toggle]").get_attribute("aria-expanded") == "false"
    # The next year's images move up into the room the collapsed group left.
    following = result["ids"][top[1]["start"]]
    assert page.locator(f"[data-testid=tile][data-id='{following}']").bounding_box()["y"] < 250
    screenshot(page, "grid-group-collapsed")
    year.locator("[data-testid=group-toggle]").click()
    page.wait_for_selector(first_inside)

    # A nested header scrolled to the top joins its parent's sticky header, under it.
    parent = next(g for g in top if len(g["groups"]) >= 2)
    child = parent["groups"][1]
    page.evaluate(SCROLL_HEADER_TO_TOP, result["ids"][child["start"]])
    stuck = page.locator(".stuck [data-testid=group-header]")
    page.wait_for_function("() => document.querySelectorAll('.stuck [data-testid=group-header]').length === 2")
    shown = [stuck.nth(i).get_attribute("data-key") for i in range(2)]
    assert shown == ["(no value)" if g["key"] is None else str(g["key"]) for g in (parent, child)]
    assert stuck.nth(1).bounding_box()["y"] - stuck.nth(0).bounding_box()["y"] == 30
    screenshot(page, "grid-nested-sticky")


# Scrolls until the tile of an image is drawn, then puts the header just above it (a group's first
# image) at the top of the grid.
SCROLL_HEADER_TO_TOP = """async (id) => {
  const scroller = document.querySelector('[data-testid=grid-scroller]');
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  let tile;
  while (!(tile = scroller.querySelector(`[data-testid=tile][data-id='${id}']`))) {
    scroller.scrollTop += 200;
    await frame();
  }
  scroller.scrollTop += tile.getBoundingClientRect().y - 30 - scroller.getBoundingClientRect().y;
  await frame();
}"""


def test_selection_by_click_shift_ctrl_rectangle_and_group_then_set_a_value(webui):
    page, server, project = webui
    project.create_property("note", "text")
    open_view(page, server, BY_YEAR_AND_FORMAT)
    tile(page, 0).click()
    assert selected_count(page) == 1
    tile(page, 2).click(modifiers=["Shift"])
    assert selected_count(page) == 3
    tile(page, 1).click(modifiers=["Control"])
    assert selected_count(page) == 2 and tile(page, 1).get_attribute("aria-selected") == "false"
    page.keyboard.press("Escape")
    assert selected_count(page) == 0

    # A rectangle from the background left of the first tile to the middle of the second one.
    first, second = tile(page, 0).bounding_box(), tile(page, 1).bounding_box()
    page.mouse.move(first["x"] - 6, first["y"] + 10)
    page.mouse.down()
    page.mouse.move(second["x"] + 20, second["y"] + 20, steps=5)
    screenshot(page, "grid-rectangle")
    page.mouse.up()
    assert selected_count(page) == 2
    assert tile(page, 0).get_attribute("aria-selected") == tile(page, 1).get_attribute("aria-selected") == "true"

    group = page.locator("[data-testid=group-header][data-depth='0']").first
    group.locator("[data-testid=group-select]").click()
    expected = int(group.locator("[data-testid=group-count]").inner_text())
    assert selected_count(page) == expected
    chosen = [int(i) for i in page.locator("[data-testid=tile][aria-selected=true]").evaluate_all(
        "tiles => tiles.map((t) => t.dataset.id)")]
    assert len(chosen) == expected

    page.locator("[data-testid=selection-set-value]").click()
    page.locator("[data-testid=set-value-property]").select_option("note")
    page.locator("[data-testid=set-value-dialog] [data-testid=value-input]").fill("seen in 2019")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-testid=set-value-dialog]", state="detached")
    assert {v.get("note") for v in project.values(chosen).values()} == {"seen in 2019"}
    others = set(project.query_ids(None)) - set(chosen)
    assert all("note" not in v for v in project.values(sorted(others)).values())
    screenshot(page, "grid-selection-set-value")


def test_set_a_value_on_a_whole_group_from_its_header(webui):
    page, server, project = webui
    project.create_property("checked", "checkbox")
    open_view(page, server, BY_YEAR_AND_FORMAT)
    group = project.query(**BY_YEAR_AND_FORMAT)["groups"][1]
    ids = project.query(**BY_YEAR_AND_FORMAT)["ids"][group["start"]:group["end"]]
    header = page.locator(f"[data-testid=group-header][data-depth='0'][data-key='{group['key']}']")
    header.locator("[data-testid=group-menu]").click()
    page.locator("[data-testid=group-set-value]").click()
    page.locator("[data-testid=set-value-property]").select_option("checked")
    # A click, not check(): ticking applies the value and closes the dialog, so the box may be gone
    # before Playwright could read it back.
    page.locator("[data-testid=set-value-dialog] [data-testid=value-input]").click()
    page.wait_for_selector("[data-testid=set-value-dialog]", state="detached")
    assert all(v.get("checked") is True for v in project.values(ids).values())
    assert len(project.query_ids({"property": "checked", "op": "eq", "value": True})) == len(ids)


def test_a_value_is_edited_in_place_under_its_thumbnail(webui):
    page, _, project = webui
    project.create_property("caption", "text")
    reopen(page)
    page.locator("[data-testid=tile]").first.locator("[data-property=caption]").click()
    page.locator("[data-testid=tile-editor] [data-testid=value-input]").fill("a cat on a chair")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-testid=tile-editor]", state="detached")
    first = ids_at(page, 0)[0]
    assert project.values([first])[first]["caption"] == "a cat on a chair"
    page.wait_for_selector("[data-testid=tile][data-index='0'] [data-property=caption]:has-text('a cat on a chair')")


def test_the_keyboard_alone_tags_images(webui):
    page, _, project = webui
    project.create_property("subject", "multi-tag")
    project.create_tag("subject", "animal")
    reopen(page)
    page.keyboard.press("ArrowRight")  # the cursor appears on the first image
    page.keyboard.press("ArrowRight")
    page.keyboard.press(" ")
    page.keyboard.press("ArrowRight")
    page.keyboard.press(" ")
    assert selected_count(page) == 2
    page.keyboard.press("t")
    page.wait_for_selector("[data-testid=tag-box]")
    page.keyboard.type("anim")
    # Tab completes what the box proposes, so wait until the proposal is shown, as a user would.
    page.wait_for_selector("[data-testid=tag-box-option]:has-text('animal')")
    page.keyboard.press("Tab")
    assert page.locator("[data-testid=tag-box-input]").input_value() == "animal"
    screenshot(page, "grid-keyboard-tag")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-testid=tag-box]", state="detached")
    tagged = ids_at(page, 1, 2)
    assert all(project.values(tagged)[i]["subject"] == ["animal"] for i in tagged)
    assert project.query_ids({"property": "subject", "op": "has_any", "value": ["animal"]}) == sorted(tagged)
    # Shift+arrows extend from the cursor; Enter opens the image under it.
    page.keyboard.press("Escape")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    assert selected_count(page) == 3
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-testid=detail]")


# Tiles whose id is not the result's at their index, or whose picture or name is another image's.
TILES_NOT_THEIR_OWN = """() => [...document.querySelectorAll('[data-testid=tile]')].filter((tile) => {
  const app = window.imagierApp;
  const id = Number(tile.dataset.id);
  const item = app.item(id);
  const image = tile.querySelector('[data-testid=tile-image]');
  return id !== app.shownResult.ids[Number(tile.dataset.index)]
    || (image && (!item || !image.src.includes(item.hash) || image.alt !== item.name));
}).map((tile) => tile.dataset.index)"""


@pytest.fixture
def large_webui(chromium, tmp_path):
    """3,000 files (one photograph copied) served and open at the laptop size."""
    folder = tmp_path / "many"
    folder.mkdir()
    Image.fromarray(skimage.data.chelsea()).resize((96, 64)).save(folder / "p00000.jpg", quality=80)
    for i in range(1, 3000):
        shutil.copyfile(folder / "p00000.jpg", folder / f"p{i:05d}.jpg")
    with imagier.open(tmp_path / "many.imagier") as project:
        project.import_folders([str(folder)])
        view = {"filter": None, "sort": [{"property": "name"}], "group": []}
        with served_page(chromium, project, "/#view=" + quote(json.dumps(view))) as (page, server):
            yield page, server, project


def test_a_long_result_scrolls_to_its_last_image(large_webui):
    page, _, project = large_webui
    page.wait_for_selector("[data-testid=tile-image]")
    assert page.locator("[data-testid=tile]").count() < 200  # only what is on screen exists
    last = project.file_count() - 1
    # The scrollbar dragged to its end ...
    page.locator("[data-testid=grid-scroller]").evaluate("s => { s.scrollTop = s.scrollHeight; }")
    page.wait_for_selector(f"[data-testid=tile][data-index='{last}'] [data-testid=tile-image]")
    assert page.locator(f"[data-testid=tile][data-index='{last}']").is_visible()
    screenshot(page, "grid-long-end")
    # The tiles were reused for the rows the jump landed on: each shows its own image, none one from before.
    assert page.evaluate(TILES_NOT_THEIR_OWN) == []
    # ... Home and End on the keyboard ...
    page.keyboard.press("Home")
    page.wait_for_selector("[data-testid=tile][data-index='0']")
    page.keyboard.press("End")
    page.wait_for_selector(f"[data-testid=tile][data-index='{last}'].focused")
    # ... and the wheel, from the top to the end.
    page.keyboard.press("Home")
    page.wait_for_selector("[data-testid=tile][data-index='0']")
    box = page.locator("[data-testid=grid-scroller]").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    height = page.locator("[data-testid=grid-scroller]").evaluate("s => s.scrollHeight")
    for _ in range(height // 4000 + 2):
        page.mouse.wheel(0, 4000)
    page.wait_for_selector(f"[data-testid=tile][data-index='{last}']")
    name = project.files([int(page.locator(f"[data-testid=tile][data-index='{last}']").get_attribute("data-id"))])[0]["name"]
    assert name == "p02999.jpg"


def test_bringing_an_offscreen_tile_into_view_never_shifts_the_grid(large_webui):
    page, _, _ = large_webui
    page.wait_for_selector("[data-testid=tile-image]")
    # A tile drawn below the screen (the rows kept ready for scrolling), brought into view the way find in
    # page or a screen reader would: the page must not scroll the box that clips the rows.
    shifted = page.evaluate("""() => {
        const tiles = [...document.querySelectorAll('[data-testid=tile]')];
        const below = tiles.find(t => t.getBoundingClientRect().top > window.innerHeight);
        if (!below) return 'no tile below the screen';
        below.scrollIntoView();
        return [...document.querySelectorAll('[data-testid=Grid] *')].filter(e => e.scrollTop > 0 &&
            e.getAttribute('data-testid') !== 'grid-scroller').map(e => e.className);
    }""")
    assert shifted == []


@pytest.mark.benchmark
def test_the_grid_at_500000_images_meets_its_targets():
    """benchmarks/bench_webui.py on the 500,000-file project: first thumbnails, scrolling, regrouping."""
    bench = load_benchmark("bench_webui")
    rows, _ = bench.measure(bench.ensure_webui_project(500_000), scroll_steps=300)
    print(bench.table(rows))
    missed = [f"{what}: {value:.0f} {unit}" for what, value, unit, limit in rows if limit is not None and value >= limit]
    assert not missed, missed


def test_a_group_menu_low_in_the_grid_opens_upwards_inside_it(webui):
    page, server, _ = webui
    open_view(page, server, BY_YEAR_AND_FORMAT)
    page.locator("[data-testid=thumb-size]").fill("120")  # headers spread over the whole grid
    grid = page.get_by_test_id("grid-scroller").bounding_box()
    middle = grid["y"] + grid["height"] / 2
    headers = page.locator("[data-testid=group-header]")
    boxes = [headers.nth(i).bounding_box() for i in range(headers.count())]
    upper = next(i for i, box in enumerate(boxes) if box["y"] + box["height"] < middle)
    lower = max((i for i, box in enumerate(boxes) if box["y"] > middle and box["y"] + box["height"] <= grid["y"] + grid["height"]),
                key=lambda i: boxes[i]["y"])
    for index, opens_down in ((upper, True), (lower, False)):
        headers.nth(index).get_by_test_id("group-menu").click()
        menu = page.get_by_test_id("group-menu-list").bounding_box()
        assert (menu["y"] > boxes[index]["y"]) == opens_down
        assert grid["y"] <= menu["y"] and menu["y"] + menu["height"] <= grid["y"] + grid["height"]
        page.keyboard.press("Escape")
        page.get_by_test_id("group-menu-list").wait_for(state="detached")
    screenshot(page, "grid-menu-low")


def test_a_rectangle_dragged_past_the_bottom_edge_scrolls_and_keeps_selecting(webui):
    page, _, project = webui
    page.locator("[data-testid=thumb-size]").fill("360")  # rows taller than the screen can hold
    box = page.get_by_test_id("grid-scroller").bounding_box()
    assert page.evaluate(f"() => {SCROLLER}.scrollHeight > {SCROLLER}.clientHeight")
    first = tile(page, 0).bounding_box()
    columns = sum(1 for i in range(project.file_count())
                  if tile(page, i).count() and tile(page, i).bounding_box()["y"] == first["y"])
    page.mouse.move(first["x"] - 6, first["y"] + 10)
    page.mouse.down()
    page.mouse.move(first["x"] + 40, box["y"] + box["height"] - 60, steps=4)
    page.mouse.move(first["x"] + 40, box["y"] + box["height"] + 30, steps=2)  # below the grid: it scrolls
    page.wait_for_function(f"() => {SCROLLER}.scrollTop + {SCROLLER}.clientHeight >= {SCROLLER}.scrollHeight - 1")
    page.mouse.move(first["x"] + 40, box["y"] + box["height"] - 5)  # the rectangle ends in the last row
    page.mouse.up()
    # The rectangle spans the first column from the top row to the last: one image a row.
    rows = -(-project.file_count() // columns)
    assert columns > 1 and selected_count(page) == rows
    assert page.evaluate(f"() => {SCROLLER}.scrollTop") > 0
    screenshot(page, "grid-rectangle-scrolled")


SCROLLER = "document.querySelector('[data-testid=grid-scroller]')"


def test_screen_readers_get_each_row_s_place_though_rows_are_reused(webui):
    page, server, project = webui
    open_view(page, server, BY_YEAR_AND_FORMAT)
    page.locator("[data-testid=thumb-size]").fill("200")
    grid = page.get_by_test_id("grid-scroller")
    columns = int(grid.get_attribute("aria-colcount"))

    def count_rows(groups):
        return sum(1 + (count_rows(g["groups"]) if g["groups"] else -(-g["count"] // columns)) for g in groups)

    expected = count_rows(project.query(**BY_YEAR_AND_FORMAT)["groups"])
    page.wait_for_function(f"() => {SCROLLER}.getAttribute('aria-rowcount') === '{expected}'")
    for fraction in (0.0, 0.5, 1.0):  # scrolled, the row slots are reused in another order
        page.evaluate(f"() => {{ {SCROLLER}.scrollTop = {fraction} * ({SCROLLER}.scrollHeight - {SCROLLER}.clientHeight); }}")
        page.wait_for_timeout(200)
        rows = page.evaluate("""() => [...document.querySelectorAll('.rows > [role=row]')]
            .map((r) => [r.getBoundingClientRect().top, Number(r.getAttribute('aria-rowindex'))])
            .sort((a, b) => a[0] - b[0]).map((r) => r[1])""")
        stuck = [int(i) for i in page.locator(".stuck[role=row]").evaluate_all(
            "rows => rows.map((r) => r.getAttribute('aria-rowindex'))")]
        # In screen order the indices rise, with no gap but the headers stuck at the top (drawn apart),
        # whose own indices are those of groups above or of the gap.
        assert len(rows) > 2 and rows == sorted(rows), rows
        within = sorted(rows + [i for i in stuck if i > rows[0]])
        assert within == list(range(rows[0], rows[0] + len(within))), (rows, stuck)
        assert all(i <= rows[-1] for i in stuck) and 1 <= min(rows + stuck) and rows[-1] <= expected
