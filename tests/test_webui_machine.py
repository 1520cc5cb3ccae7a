"""The machine's help in a real Chromium on the embedded photographs: clusters as groups (nested, saved as
tags), suggestions accepted and rejected from the keyboard, text search, near-duplicates, the similarity
map. Every flow is checked in the project itself afterwards."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest

from live import eventually, screenshot

pytestmark = pytest.mark.browser


def tile_ids(page) -> list[int]:
    return [int(i) for i in page.locator("[data-testid=tile]").evaluate_all("els => els.map(e => e.dataset.id)")]


def by_name(project, photo_dir) -> dict[str, int]:
    return {Path(f["path"]).relative_to(photo_dir).as_posix(): f["id"] for f in project.files(project.query_ids())}


def find_duplicates(page, project) -> list[dict]:
    """Open the duplicates view and find them; the groups the project finds, to compare with the page's."""
    page.get_by_test_id("mode-duplicates").click()
    page.get_by_test_id("duplicates-find").click()
    page.get_by_test_id("duplicates-count").wait_for(timeout=120_000)
    return project.duplicates()


def cluster(page, k: int) -> None:
    page.get_by_test_id("cluster-auto").uncheck()
    page.get_by_test_id("cluster-k").fill(str(k))
    page.get_by_test_id("cluster-run").click()
    page.get_by_test_id("cluster-form").wait_for(state="detached")


def cluster_the_view(page, k: int) -> None:
    """Cluster every image of the view into k clusters, through the form, and wait for them to show."""
    page.get_by_test_id("cluster-view").click()
    cluster(page, k)
    page.get_by_test_id("overlay-banner").wait_for()


def save_clusters_as(page, name: str) -> None:
    """Save the overlay's clusters as tags of the property `name`, through its form."""
    page.get_by_test_id("overlay-action").filter(has_text="Save clusters as tags").click()
    page.get_by_test_id("cluster-save-property").fill(name)
    page.get_by_test_id("cluster-save-run").click()
    page.get_by_test_id("cluster-save-form").wait_for(state="detached")


def test_cluster_the_view_then_save_as_tags_in_one_undoable_operation(webui):
    page, server, project = webui
    cluster_the_view(page, 3)
    headers = page.locator("[data-testid=group-header]")
    assert headers.count() == 3
    # the grid's rows are reused, so the DOM's order is not the screen's: headers are found by their key
    assert sorted(headers.evaluate_all("els => els.map(e => e.dataset.key)")) == ["Cluster 1", "Cluster 2", "Cluster 3"]
    ids = tile_ids(page)
    assert sorted(ids) == sorted(project.query_ids())  # every image once
    screenshot(page, "machine-clusters")

    save_clusters_as(page, "visual")
    assert page.get_by_test_id("message-error").count() == 0  # the saved clusters are the ones shown
    page.wait_for_selector("[data-testid=group-header][data-key='cluster 1']")
    values = project.values(project.query_ids())
    assert {v["visual"] for v in values.values()} == {"cluster 1", "cluster 2", "cluster 3"}
    assert page.get_by_test_id("overlay-banner").count() == 0

    page.keyboard.press("Control+z")  # one operation: one undo takes the tags and the new property back
    eventually(lambda: project.history(1)[0]["state"] == "undone")
    assert project.history(1)[0]["label"] == "save 3 clusters as visual"
    assert all("visual" not in v for v in project.values(project.query_ids()).values())
    assert "visual" not in {p["name"] for p in project.properties()}


def test_recluster_a_cluster_into_nested_groups_and_save_them_under_its_tag(webui):
    page, server, project = webui
    cluster_the_view(page, 2)
    first = page.locator("[data-testid=group-header][data-key='Cluster 1']")
    first.get_by_test_id("group-menu").click()
    page.get_by_test_id("group-action").filter(has_text="Create clusters").click()
    expect_title = page.get_by_test_id("cluster-form").inner_text()
    assert "Cluster 1" in expect_title
    cluster(page, 2)
    nested = page.locator("[data-testid=group-header][data-depth='1']")
    nested.first.wait_for()
    assert nested.count() == 2
    assert sorted(nested.evaluate_all("els => els.map(e => e.dataset.key)")) == ["Cluster 1.1", "Cluster 1.2"]
    assert sorted(tile_ids(page)) == sorted(project.query_ids())
    screenshot(page, "machine-clusters-nested")

    save_clusters_as(page, "visual")
    assert page.get_by_test_id("message-error").count() == 0  # the saved clusters are the ones shown
    tags = {t["name"]: t for t in project.tags("visual")}
    assert {"cluster 1", "cluster 2", "cluster 1.1", "cluster 1.2"} <= set(tags)
    assert tags["cluster 1.1"]["parents"] == [tags["cluster 1"]["id"]]
    members = set(project.query_ids({"property": "visual", "op": "eq", "value": "cluster 1"}))
    children = set(project.query_ids({"property": "visual", "op": "has_any", "value": ["cluster 1.1", "cluster 1.2"]}))
    assert children == members and members
    # One operation, whose record tells how each level was made.
    op = project.history(1)[0]
    assert op["label"] == "save 4 clusters as visual" and op["params"]["k"] == 2
    assert [(n["of"], n["k"]) for n in op["params"]["sub-clusters"]] == [("Cluster 1", 2)]
    page.keyboard.press("Control+z")
    eventually(lambda: "visual" not in {p["name"] for p in project.properties()})


def test_suggestions_accepted_and_rejected_with_the_keyboard(webui, photo_dir):
    page, server, project = webui
    names = by_name(project, photo_dir)
    project.create_property("animal", "multi-tag")
    project.add_values("animal", [names["2020/chelsea.jpg"]], ["cat"])
    view = '{"filter":null,"sort":[],"group":[{"property":"animal"}]}'
    page.goto(server.url + "/#view=" + quote(view))
    page.reload()
    header = page.locator("[data-testid=group-header][data-key='cat']")
    header.get_by_test_id("group-menu").click()
    page.get_by_test_id("group-action").filter(has_text="Suggestions").click()
    cards = page.get_by_test_id("suggestion")
    cards.first.wait_for()
    proposed = [int(i) for i in cards.evaluate_all("els => els.map(e => e.dataset.id)")]
    assert names["2020/chelsea.jpg"] not in proposed
    screenshot(page, "machine-suggestions")

    page.keyboard.press("a")  # accept the first
    page.wait_for_selector(f"[data-testid=suggestion][data-id='{proposed[0]}']", state="detached")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("r")  # reject the (new) second
    page.wait_for_selector(f"[data-testid=suggestion][data-id='{proposed[2]}']", state="detached")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("a")  # accept the one now first
    page.wait_for_selector(f"[data-testid=suggestion][data-id='{proposed[1]}']", state="detached")
    page.wait_for_selector("[data-testid=suggestions-tally]:has-text('2 accepted, 1 rejected')")

    cats = set(project.query_ids({"property": "animal", "op": "has_any", "value": ["cat"]}))
    assert {proposed[0], proposed[1], names["2020/chelsea.jpg"]} <= cats
    assert proposed[2] not in cats
    again = [s["id"] for s in project.suggestions("animal", "cat", top_k=100)]
    assert proposed[2] not in again  # rejected: never proposed again
    shown = [int(i) for i in cards.evaluate_all("els => els.map(e => e.dataset.id)")]
    assert proposed[2] not in shown
    page.keyboard.press("Escape")
    page.get_by_test_id("suggestions").wait_for(state="detached")


def test_text_search_shows_ranked_results_with_scores(webui, photo_dir):
    page, server, project = webui
    names = by_name(project, photo_dir)
    page.get_by_test_id("search-input").fill("cat")
    page.keyboard.press("Enter")
    expected = [r["id"] for r in project.search("cat", top_k=200)]
    page.wait_for_selector(f"[data-testid=overlay-title]:has-text('Search: cat ({len(expected)} matches)')")
    page.get_by_test_id("tile-score").first.wait_for()
    assert tile_ids(page) == expected  # ranked, and only what matches
    assert tile_ids(page)[0] in {names["2020/chelsea.jpg"], names["formats/chelsea.gif"]}
    screenshot(page, "machine-search")
    page.get_by_test_id("search-input").fill("zzzqqq")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-testid=overlay-title]:has-text('Search: zzzqqq (nothing matches)')")
    page.locator("[data-testid=overlay-note]", has_text="no ImageNet class is known for 'zzzqqq'").wait_for()
    screenshot(page, "machine-search-nothing")


@pytest.mark.parametrize("mode, shown", [("table", "Table"), ("map", "map")])
def test_the_search_and_its_message_show_in_the_table_and_the_map_too(webui, mode, shown):
    page, server, project = webui
    page.get_by_test_id(f"mode-{mode}").click()
    view = page.get_by_test_id(shown)
    view.wait_for()
    page.get_by_test_id("search-input").fill("zzzqqq")
    page.keyboard.press("Enter")
    view.locator("[data-testid=overlay-note]", has_text="no ImageNet class is known for 'zzzqqq'").wait_for()
    assert view.get_by_test_id("overlay-title").inner_text() == "Search: zzzqqq (nothing matches)"
    view.get_by_test_id("overlay-close").click()
    view.get_by_test_id("overlay-banner").wait_for(state="detached")
    assert page.get_by_test_id("search-input").input_value() == ""


def test_duplicates_view_tags_exactly_the_other_copies(webui, photo_dir):
    page, server, project = webui
    names = by_name(project, photo_dir)
    expected = find_duplicates(page, project)
    # The list is virtual: its count names every group, and the cards drawn are the first of them.
    assert page.get_by_test_id("duplicates-count").inner_text().startswith(f"{len(expected)} groups of copies")
    cards = page.get_by_test_id("duplicate-group")
    assert 0 < cards.count() <= len(expected)
    # The byte-identical copy is in a group with its original.
    copy = names["copies/astronaut-copy.jpg"]
    group = next(g for g in expected if copy in g["ids"])
    assert names["2019/astronaut.jpg"] in group["ids"]
    index = expected.index(group)
    card = page.locator(f"[data-testid=duplicate-group][data-index='{index}']")
    shown = [int(i) for i in card.get_by_test_id("duplicate-copy").evaluate_all("els => els.map(e => e.dataset.id)")]
    assert shown == group["ids"]
    kept = shown[1]
    card.get_by_test_id("duplicate-keep").nth(1).check()
    screenshot(page, "machine-duplicates")
    card.get_by_test_id("duplicate-tag-others").click()
    card.get_by_test_id("duplicate-done").wait_for()
    tagged = set(project.query_ids({"property": "duplicate", "op": "has_any", "value": ["copy"]}))
    assert tagged == set(group["ids"]) - {kept}


def test_map_shows_every_image_and_the_lasso_selects_the_points_inside(webui):
    page, server, project = webui
    page.get_by_test_id("mode-map").click()
    page.wait_for_selector("[data-testid=map-count]:has-text('15 images')", timeout=60_000)
    screenshot(page, "machine-map")
    found = project.layout()
    canvas = page.get_by_test_id("map-canvas")
    box = canvas.bounding_box()
    scale, ox, oy = (float(canvas.get_attribute(f"data-{k}")) for k in ("scale", "ox", "oy"))
    screen = {int(i): (ox + float(x) * scale, oy + float(y) * scale) for i, (x, y) in zip(found["ids"], found["xy"])}
    # A lasso around the left half of the map (in the canvas's own pixels).
    xs = sorted({x for x, _ in screen.values()})
    middle = (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2  # between two points, never on one
    corners = [(0, 0), (middle, 0), (middle, box["height"]), (0, box["height"])]
    expected = {i for i, (x, y) in screen.items() if x < middle}
    assert 0 < len(expected) < 15
    page.get_by_test_id("map-lasso").click()
    page.mouse.move(box["x"] + corners[0][0] + 1, box["y"] + corners[0][1] + 1)
    page.mouse.down()
    for x, y in corners[1:] + corners[:1]:
        page.mouse.move(box["x"] + min(max(x, 1), box["width"] - 1), box["y"] + min(max(y, 1), box["height"] - 1), steps=4)
    page.mouse.up()
    page.wait_for_selector(f"[data-testid=map-selected]:has-text('{len(expected)} selected')")
    screenshot(page, "machine-map-lasso")
    # A click on an image opens it (the lasso is off again).
    page.get_by_test_id("map-lasso").click()
    # the image farthest from any other, so the click cannot land on a neighbour's thumbnail
    lone = max(screen, key=lambda i: min(np.hypot(screen[i][0] - screen[j][0], screen[i][1] - screen[j][1])
                                         for j in screen if j != i))
    page.mouse.click(box["x"] + screen[lone][0], box["y"] + screen[lone][1])
    page.wait_for_selector(f"[data-testid=detail-name]:has-text('{project.files([lone])[0]['name']}')")
    page.keyboard.press("Escape")
    page.get_by_test_id("detail").wait_for(state="detached")
    # The selection is the page's: the grid shows exactly those images selected.
    page.get_by_test_id("mode-grid").click()
    page.get_by_test_id("tile").first.wait_for()
    selected = page.locator("[data-testid=tile][aria-selected=true]")
    assert {int(i) for i in selected.evaluate_all("els => els.map(e => e.dataset.id)")} == expected


def test_duplicates_hide_the_others_tags_them_and_filters_them_out_of_the_view(webui, photo_dir):
    page, server, project = webui
    names = by_name(project, photo_dir)
    expected = find_duplicates(page, project)
    index = next(n for n, g in enumerate(expected) if names["2019/coffee.jpg"] in g["ids"])
    group = expected[index]
    card = page.locator(f"[data-testid=duplicate-group][data-index='{index}']")
    card.get_by_test_id("duplicate-hide-others").click()
    card.get_by_test_id("duplicate-done").wait_for()
    hidden = set(project.query_ids({"property": "duplicate", "op": "has_any", "value": ["hidden"]}))
    kept = names["2019/coffee.jpg"]  # the larger file of the two (same pixels, JPEG larger than WebP)
    assert hidden == set(group["ids"]) - {kept}
    total = project.file_count() - len(hidden)
    page.wait_for_selector(f"[data-testid=view-count]:has-text('{total} images')")


def test_hdbscan_clusters_and_a_refused_k_keeps_the_form_open(webui):
    page, server, project = webui
    page.get_by_test_id("cluster-view").click()
    cluster_form = page.get_by_test_id("cluster-form")
    page.keyboard.press("Escape")
    cluster_form.wait_for(state="detached")
    page.get_by_test_id("cluster-view").click()
    page.get_by_test_id("cluster-auto").uncheck()
    page.get_by_test_id("cluster-k").fill("99")
    page.get_by_test_id("cluster-run").click()
    page.wait_for_selector("[data-testid=message-error]:has-text('cannot make 99 clusters')")
    assert cluster_form.is_visible()  # to correct the number
    page.get_by_test_id("cluster-method").select_option("hdbscan")
    page.get_by_test_id("cluster-min-size").fill("2")
    page.get_by_test_id("cluster-run").click()
    cluster_form.wait_for(state="detached")
    page.get_by_test_id("overlay-banner").wait_for()
    expected = project.cluster(method="hdbscan", min_cluster_size=2)
    # the grid renders only the groups on screen: its count line tells them all
    page.wait_for_selector(f"[data-testid=grid-count]:has-text('in {len(expected)} groups')")
    page.locator("[data-testid=group-header][data-key='Cluster 1']").wait_for()


def test_the_clusters_saved_are_those_shown_even_after_the_vectors_changed(webui):
    page, server, project = webui
    cluster_the_view(page, 2)
    first = project.cluster(k=2)
    # One image of cluster 1 now looks exactly like one of cluster 2: clustering again would put them
    # together, but the researcher saves what was reviewed.
    x, y = first[0]["ids"][0], first[1]["ids"][0]
    content_x, content_y = (project.files([i])[0]["content_id"] for i in (x, y))
    project.put_vectors("efficientnet-lite0", [content_x], project.vectors_of("efficientnet-lite0", [content_y]))
    page.get_by_test_id("overlay-action").filter(has_text="Save clusters as tags").click()
    page.get_by_test_id("cluster-save-property").fill("visual")
    page.get_by_test_id("cluster-save-run").click()
    page.get_by_test_id("cluster-save-form").wait_for(state="detached")
    values = project.values([x, y])
    assert (values[x]["visual"], values[y]["visual"]) == ("cluster 1", "cluster 2")  # as reviewed
    assert page.get_by_test_id("message-error").count() == 0


def test_the_map_shows_the_clusters_in_colours(webui):
    page, server, project = webui
    cluster_the_view(page, 3)
    page.get_by_test_id("mode-map").click()
    legend = page.get_by_test_id("map-legend")
    legend.wait_for(timeout=60_000)
    assert legend.inner_text().split() == ["Cluster", "1", "Cluster", "2", "Cluster", "3"]
    page.wait_for_selector("[data-testid=map-count]:has-text('15 images')", timeout=60_000)
    screenshot(page, "machine-map-clusters")


def test_suggestions_from_the_sidebar_and_a_click_to_accept(webui, photo_dir):
    page, server, project = webui
    names = by_name(project, photo_dir)
    project.create_property("animal", "tag")
    project.set_values("animal", [names["2020/chelsea.jpg"]], "cat")
    page.reload()
    page.get_by_test_id("suggest-property").select_option("animal")
    page.get_by_test_id("suggest-value").select_option("cat")
    page.get_by_test_id("suggest-open").click()
    first = page.get_by_test_id("suggestion").first
    first.wait_for()
    chosen = int(first.get_attribute("data-id"))
    first.get_by_test_id("suggestion-accept").click()
    page.wait_for_selector(f"[data-testid=suggestion][data-id='{chosen}']", state="detached")
    assert project.values([chosen])[chosen]["animal"] == "cat"
    page.get_by_test_id("suggestions-close").click()
    page.get_by_test_id("suggestions").wait_for(state="detached")


def test_duplicates_decided_from_the_keyboard(webui):
    page, server, project = webui
    expected = find_duplicates(page, project)
    assert len(expected) >= 2
    page.keyboard.press("ArrowDown")  # the second group
    page.keyboard.press("2")          # keep its second copy
    page.keyboard.press("t")          # tag the others
    page.locator("[data-testid=duplicate-group][data-index='1'] [data-testid=duplicate-done]").wait_for()
    tagged = set(project.query_ids({"property": "duplicate", "op": "has_any", "value": ["copy"]}))
    assert tagged == set(expected[1]["ids"]) - {expected[1]["ids"][1]}
    # the focus moved on to the next group
    page.wait_for_selector("[data-testid=duplicate-group][data-index='2'].focused" if len(expected) > 2
                           else "[data-testid=duplicate-group][data-index='1'].focused")
