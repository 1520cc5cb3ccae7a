"""The view's editors in a real Chromium: nested filters, multi-key sort, grouping, and tabs that keep
their own saved views."""

import asyncio
import json
from urllib.parse import unquote

import pytest

from live import eventually, screenshot

pytestmark = pytest.mark.browser


def count_is(page, expected: int) -> None:
    page.wait_for_selector(f"[data-testid=view-count]:text-is('{expected} image{'' if expected == 1 else 's'}')")


def tile_ids(page) -> list[int]:
    """The ids of the tiles on screen, in the grid's order."""
    page.wait_for_selector("[data-testid=tile]")
    tiles = page.eval_on_selector_all(
        "[data-testid=tile]", "els => els.map(e => [Number(e.dataset.index), Number(e.dataset.id)])")
    return [id_ for _, id_ in sorted(tiles)]


def hash_view(page) -> dict:
    return json.loads(unquote(page.evaluate("location.hash"))[len("#view="):])


def test_a_nested_and_or_filter_keeps_the_images_the_project_keeps(webui):
    page, server, project = webui
    count_is(page, project.file_count())
    page.click("[data-testid=filter-add]")
    first = page.locator("[data-testid=filter-condition]").first
    first.locator("[data-testid=filter-property]").select_option("width")
    first.locator("[data-testid=filter-op]").select_option("gt")
    first.locator("[data-testid=filter-value]").fill("450")
    wanted = {"property": "width", "op": "gt", "value": 450}
    count_is(page, len(project.query_ids(wanted)))

    page.click("[data-testid=filter-add-group]")
    nested = page.locator("[data-testid=filter-group] [data-testid=filter-group]")
    assert nested.locator("[data-testid=filter-combinator]").input_value() == "or"
    for _ in range(2):
        nested.locator("[data-testid=filter-add]").click()
    conditions = nested.locator("[data-testid=filter-condition]")
    conditions.nth(0).locator("[data-testid=filter-property]").select_option("format")
    conditions.nth(0).locator("[data-testid=filter-value]").fill("PNG")
    conditions.nth(1).locator("[data-testid=filter-property]").select_option("name")
    conditions.nth(1).locator("[data-testid=filter-op]").select_option("contains")
    conditions.nth(1).locator("[data-testid=filter-value]").fill("COFF")
    expected = {"and": [wanted, {"or": [{"property": "format", "op": "eq", "value": "PNG"},
                                        {"property": "name", "op": "contains", "value": "COFF"}]}]}
    ids = project.query_ids(expected)
    assert 0 < len(ids) < len(project.query_ids(wanted))
    count_is(page, len(ids))
    assert hash_view(page)["filter"] == expected
    assert sorted(tile_ids(page)) == sorted(ids)
    screenshot(page, "view-nested-filter")

    # NOT of the group: "none of"
    nested.locator("[data-testid=filter-combinator]").select_option("not-or")
    count_is(page, len(project.query_ids({"and": [wanted, {"not": expected["and"][1]}]})))


def test_a_tag_condition_offers_the_property_s_tags(webui):
    page, server, project = webui
    project.create_property("topic", "multi-tag")
    for tag in ("cats", "space"):
        project.create_tag("topic", tag)
    ids = project.query_ids()
    project.add_values("topic", ids[:3], ["cats"])
    project.add_values("topic", ids[2:5], ["space"])
    page.reload()
    page.click("[data-testid=filter-add]")
    condition = page.locator("[data-testid=filter-condition]").first
    condition.locator("[data-testid=filter-property]").select_option("topic")
    assert condition.locator("[data-testid=filter-op]").input_value() == "has_any"
    condition.locator("[data-testid=filter-tag-add]").select_option("cats")
    count_is(page, 3)
    condition.locator("[data-testid=filter-tag-add]").select_option("space")
    count_is(page, 5)
    condition.locator("[data-testid=filter-op]").select_option("has_all")
    count_is(page, len(project.query_ids({"property": "topic", "op": "has_all", "value": ["cats", "space"]})))


def test_sorting_by_two_keys(webui):
    page, server, project = webui
    page.click("[data-testid=sort-add]")
    page.locator("[data-testid=sort-property]").nth(0).select_option("format")
    page.click("[data-testid=sort-add]")
    page.locator("[data-testid=sort-property]").nth(1).select_option("width")
    page.locator("[data-testid=sort-direction]").nth(1).click()
    sort = [{"property": "format"}, {"property": "width", "desc": True}]
    expected = project.query_ids(sort=sort)
    page.wait_for_function("part => decodeURIComponent(location.hash).includes(part)", arg='"desc":true')
    assert hash_view(page)["sort"] == sort
    page.wait_for_function(
        "first => document.querySelector('[data-testid=tile][data-index=\"0\"]')?.dataset.id == first",
        arg=expected[0])
    shown = tile_ids(page)
    assert shown == expected[:len(shown)] and len(shown) >= 5
    # the second key moved first
    page.locator("[data-testid=sort-key]").nth(1).get_by_label("Move up").click()
    page.wait_for_function("part => decodeURIComponent(location.hash).includes(part)",
                           arg='"sort":[{"property":"width","desc":true},{"property":"format"}]')
    screenshot(page, "view-sorted")


def test_grouping_by_month_and_by_number_bins(webui):
    page, server, project = webui
    page.click("[data-testid=group-add]")
    page.locator("[data-testid=group-property]").select_option("taken")
    assert page.locator("[data-testid=group-by]").input_value() == "month"
    group = [{"property": "taken", "by": "month"}]
    months = [g["key"] for g in project.query(group=group)["groups"] if g["key"] is not None]
    assert "2019-03" in months and len(months) >= 5
    page.wait_for_selector("[data-testid=group-header][data-key='2019-03']")
    keys = page.eval_on_selector_all("[data-testid=group-header]", "els => els.map(e => e.dataset.key)")
    assert [k for k in keys if k in months] == months[:len([k for k in keys if k in months])]
    screenshot(page, "view-grouped-by-month")

    page.locator("[data-testid=group-property]").select_option("width")
    page.locator("[data-testid=group-bin]").fill("500")
    bins = [g["key"] for g in project.query(group=[{"property": "width", "bin": 500}])["groups"]]
    page.wait_for_selector(f"[data-testid=group-header][data-key='{bins[0]}']")
    assert hash_view(page)["group"] == [{"property": "width", "bin": 500}]


def test_tabs_keep_their_views_across_switches_and_a_reload(webui):
    page, server, project = webui
    total = project.file_count()
    count_is(page, total)
    page.click("[data-testid=tab-add]")
    page.wait_for_selector("[data-testid=tab] >> nth=1")
    page.click("[data-testid=filter-add]")
    condition = page.locator("[data-testid=filter-condition]").first
    condition.locator("[data-testid=filter-property]").select_option("format")
    condition.locator("[data-testid=filter-value]").fill("JPEG")
    jpegs = len(project.query_ids({"property": "format", "op": "eq", "value": "JPEG"}))
    count_is(page, jpegs)
    page.locator("[data-testid=tab-name]").nth(1).dblclick()
    page.fill("[data-testid=tab-rename-input]", "JPEGs")
    page.press("[data-testid=tab-rename-input]", "Enter")

    page.locator("[data-testid=tab-name]").nth(0).click()
    count_is(page, total)
    assert page.locator("[data-testid=filter-condition]").count() == 0
    page.locator("[data-testid=tab-name]").nth(1).click()
    count_is(page, jpegs)
    assert page.locator("[data-testid=filter-value]").input_value() == "JPEG"
    saved = {"name": "JPEGs", "filter": {"property": "format", "op": "eq", "value": "JPEG"}}
    eventually(lambda: saved in [{"name": v["name"], "filter": v["state"]["filter"]} for v in project.views()])

    queries: list[dict] = []
    page.on("request", lambda r: queries.append(r.post_data_json) if r.url.endswith("/api/query") else None)
    page.goto(server.url + "/")  # the project's address alone: the page opens the tab open last time
    count_is(page, jpegs)
    page.wait_for_selector("[data-testid=tab-name][aria-selected=true]:text-is('JPEGs')")
    # The remembered tab is chosen before the first query: one query at load, for that tab's view.
    assert [q["filter"] for q in queries] == [saved["filter"]]
    screenshot(page, "view-tabs")
    page.locator("[data-testid=tab]").nth(1).locator("[data-testid=tab-close]").click()
    count_is(page, total)
    page.wait_for_function("() => document.querySelectorAll('[data-testid=tab]').length === 1")
    assert "JPEGs" not in {v["name"] for v in project.views()}


@pytest.mark.parametrize("slow", ["/api/info", "/api/properties"])
def test_a_slow_answer_at_load_does_not_make_the_page_query_twice(embedded, chromium, slow):
    # On a busy machine the page's first read of the project's info can take seconds; the change stream's
    # first news (the file's version, unchanged) arriving meanwhile is no change to re-read everything for.
    # (The test above once saw two identical queries at load so, in CI.)
    from imagier.server.app import create_app
    from live import LAPTOP, LiveServer

    app = create_app(embedded)

    async def slowed(scope, receive, send):
        if scope["type"] == "http" and scope["path"] == slow:
            await asyncio.sleep(2.5)  # longer than the page's wait before it acts on news (REFRESH_GAP)
        await app(scope, receive, send)

    with LiveServer(slowed) as server:
        context = chromium.new_context(viewport=LAPTOP)
        page = context.new_page()
        queries: list[dict] = []
        page.on("request", lambda r: queries.append(r.post_data_json) if r.url.endswith("/api/query") else None)
        page.goto(server.url + "/")
        count_is(page, embedded.file_count())
        page.wait_for_selector("[data-testid=property-new]")
        page.wait_for_timeout(2500)  # the news has been read by now, and acted on if it were to be
        context.close()
    assert len(queries) == 1, queries


def test_the_echo_of_a_slow_save_is_not_taken_for_a_change_made_elsewhere(embedded, chromium):
    # The tab's save commits, the change stream tells the page, and only then does the save's answer
    # arrive (slowly, on a busy machine): the page's own write is no news to re-read everything for.
    from imagier.server.app import create_app
    from live import LAPTOP, LiveServer

    app = create_app(embedded)

    async def slow_saves(scope, receive, send):
        async def answer_late(message):
            if message["type"] == "http.response.start":
                await asyncio.sleep(1.5)  # far beyond the page's wait for its own echo (ECHO_WAIT)
            await send(message)
        saving = scope["type"] == "http" and scope["method"] in ("POST", "PUT") and scope["path"].startswith("/api/views")
        await app(scope, receive, answer_late if saving else send)

    with LiveServer(slow_saves) as server:
        context = chromium.new_context(viewport=LAPTOP)
        page = context.new_page()
        page.goto(server.url + "/")
        count_is(page, embedded.file_count())
        queries: list[dict] = []
        page.on("request", lambda r: queries.append(r.post_data_json) if r.url.endswith("/api/query") else None)
        page.click("[data-testid=filter-add]")
        condition = page.locator("[data-testid=filter-condition]").first
        condition.locator("[data-testid=filter-property]").select_option("format")
        condition.locator("[data-testid=filter-value]").fill("JPEG")
        count_is(page, len(embedded.query_ids({"property": "format", "op": "eq", "value": "JPEG"})))
        eventually(lambda: [v["state"]["filter"] for v in embedded.views()] == [queries[-1]["filter"]])
        page.wait_for_timeout(2500)  # the save's answer, and the news of its commit, have both arrived
        context.close()
    # one query per filter the editor sent (each keystroke may send one), none after the save
    assert len(queries) == len({json.dumps(q, sort_keys=True) for q in queries}), queries


def test_each_tab_keeps_how_it_shows_its_images(webui):
    page, server, project = webui
    count_is(page, project.file_count())
    page.click("[data-testid=tab-add]")
    page.wait_for_selector("[data-testid=tab] >> nth=1")
    page.click("[data-testid=mode-table]")
    page.wait_for_selector("[data-testid=Table]")
    eventually(lambda: [v["state"].get("display", {}).get("mode") for v in project.views()][-1:] == ["table"])

    page.locator("[data-testid=tab-name]").nth(0).click()
    page.wait_for_selector("[data-testid=Grid]")
    page.locator("[data-testid=thumb-size]").fill("240")
    eventually(lambda: [v["state"].get("display", {}).get("thumbSize") for v in project.views()][:1] == [240])
    page.locator("[data-testid=tab-name]").nth(1).click()
    page.wait_for_selector("[data-testid=Table]")

    page.goto(server.url + "/")  # reopened on the tab open last time, as that tab shows its images
    page.wait_for_selector("[data-testid=Table]")
    page.locator("[data-testid=tab-name]").nth(0).click()
    page.wait_for_selector("[data-testid=Grid]")
    assert page.locator("[data-testid=thumb-size]").input_value() == "240"


def test_a_link_opened_in_the_page_shows_its_view(webui):
    page, server, project = webui
    count_is(page, project.file_count())
    view = {"filter": {"property": "format", "op": "eq", "value": "PNG"}, "sort": [], "group": []}
    # A new address in the same page (a pasted link, the browser's Back) is no new page load.
    page.evaluate("view => { location.hash = '#view=' + encodeURIComponent(JSON.stringify(view)); }", view)
    count_is(page, len(project.query_ids(view["filter"])))
    assert hash_view(page) == view
    assert page.locator("[data-testid=filter-value]").input_value() == "PNG"


def test_an_invalid_filter_shows_the_server_s_message(webui):
    page, server, project = webui
    page.click("[data-testid=filter-add]")
    condition = page.locator("[data-testid=filter-condition]").first
    condition.locator("[data-testid=filter-property]").select_option("name")
    condition.locator("[data-testid=filter-op]").select_option("matches")
    condition.locator("[data-testid=filter-value]").fill("(unclosed")
    page.wait_for_selector("[data-testid=message-error]:has-text('not a valid regular expression')")
