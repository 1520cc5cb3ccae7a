"""The query engine: every op on every type family, nesting, sort, group, windows and bad input."""

from __future__ import annotations

import threading

import pytest

import imagier
from imagier import InvalidInput, NotFound

IMAGES = [  # file ids 1..8 in this order
    dict(folder="/data/a", name="cat1.jpg", width=800, height=600, size=1000, taken="2019-05-03T10:00:00"),
    dict(folder="/data/a", name="Cat2.JPG", width=1600, height=1200, size=5000, taken="2019-05-20T08:00:00"),
    dict(folder="/data/a", name="dog.png", format="PNG", width=1024, height=768, size=3000,
         taken="2019-06-01T00:00:00"),
    dict(folder="/data/b", name="bird.png", format="PNG", width=300, height=300, size=200,
         taken="2020-01-01T12:00:00"),
    dict(folder="/data/b", name="undated.jpg", width=5000, height=4000, size=90000, taken=None),
    dict(folder="/data/b/c", name="Élan.jpg", width=640, height=480, size=800, taken="2018-12-31T23:59:59"),
    dict(folder="/data/b/c", name="copy.jpg", hash="cat1.jpg"),  # the same bytes as cat1.jpg
    dict(folder="/data/b/c", name="dup.jpg", width=1600, height=900, size=5000, taken="2019-05-20T08:00:00"),
]
ALL = set(range(1, len(IMAGES) + 1))


def add_images(project, images) -> list[int]:
    """Insert folder, content and file rows directly, so queries can be tested without real images."""
    ids = []
    with project.db.write() as conn:
        for image in images:
            folder = image["folder"]
            conn.execute("INSERT OR IGNORE INTO folders(path, name) VALUES (?, ?)", (folder, folder.rsplit("/", 1)[1]))
            folder_id = conn.execute("SELECT id FROM folders WHERE path = ?", (folder,)).fetchone()[0]
            content_hash = image.get("hash", image["name"])
            conn.execute("INSERT OR IGNORE INTO contents(hash, format, width, height, size, taken) "
                         "VALUES (?, ?, ?, ?, ?, ?)",
                         (content_hash, image.get("format", "JPEG"), image.get("width", 1), image.get("height", 1),
                          image.get("size", 1), image.get("taken")))
            content_id = conn.execute("SELECT id FROM contents WHERE hash = ?", (content_hash,)).fetchone()[0]
            conn.execute("INSERT INTO files(path, folder_id, name, content_id, modified, mtime_ns, imported) "
                         "VALUES (?, ?, ?, ?, '2024-01-01T00:00:00', 0, '2024-02-01T00:00:00')",
                         (f"{folder}/{image['name']}", folder_id, image["name"], content_id))
            ids.append(conn.last_insert_rowid())
    return ids


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    p = imagier.open(tmp_path_factory.mktemp("query") / "p.imagier")
    assert add_images(p, IMAGES) == sorted(ALL)
    p.create_property("caption", "text")
    for i, text in {1: "A black cat", 2: "white CAT", 3: "dog", 6: "élan vital", 7: "007"}.items():
        p.set_values("caption", [i], text)
    p.create_property("rating", "number", scope="content")
    for i, number in {1: 5, 2: 3, 3: 4.5, 4: 1}.items():
        p.set_values("rating", [i], number)
    p.create_property("reviewed", "checkbox")
    p.set_values("reviewed", [1, 3], True)
    p.set_values("reviewed", [2], False)
    p.create_property("when", "date")
    for i, when in {1: "2019", 2: "2019-05", 3: "2019-05-03", 4: "2020-02-29T10:00"}.items():
        p.set_values("when", [i], when)
    p.create_property("link", "url")
    p.set_values("link", [1], "https://archive.example.org/item/1")
    p.create_property("hue", "colour")
    p.set_values("hue", [1], "#FF0000")
    p.create_property("source", "path")
    p.set_values("source", [2], "/scans/box1/Cat2.tif")
    p.create_property("subject", "multi-tag")
    p.create_tag("subject", "animal")
    p.create_tag("subject", "cat", parents=["animal"])
    p.create_tag("subject", "dog", parents=["animal"])
    p.create_tag("subject", "kitten", parents=["cat"])
    p.create_tag("subject", "person")
    for i, tags in {1: ["kitten"], 2: ["cat", "person"], 3: ["dog"], 4: ["person"], 6: ["animal"]}.items():
        p.set_values("subject", [i], tags)
    p.create_property("place", "tag")
    p.set_values("place", [1, 2], "paris")
    p.set_values("place", [3], "rome")
    yield p
    p.close()


def ids(project, filter=None, sort=None) -> list[int]:
    return project.query(filter, sort)["ids"]


def match(project, property, op, value=None) -> set[int]:
    condition = {"property": property, "op": op} | ({} if value is None else {"value": value})
    found = ids(project, condition)
    assert len(found) == len(set(found))
    return set(found)


# ---- filters: one family at a time --------------------------------------------------------------------

@pytest.mark.parametrize("op, value, expected", [
    ("eq", 1600, {2, 8}), ("ne", 1600, ALL - {2, 8}), ("lt", 800, {4, 6}), ("le", 800, {1, 4, 6, 7}),
    ("gt", 1600, {5}), ("ge", "1600", {2, 5, 8}), ("is_set", None, ALL),
])
def test_builtin_number_ops(project, op, value, expected):
    assert match(project, "width", op, value) == expected


@pytest.mark.parametrize("op, value, expected", [
    ("eq", 5, {1, 7}), ("ge", 4, {1, 3, 7}), ("lt", 4.5, {2, 4}), ("ne", 5, ALL - {1, 7}),
    ("is_set", None, {1, 2, 3, 4, 7}), ("is_empty", None, {5, 6, 8}),
])
def test_user_number_ops_follow_the_content(project, op, value, expected):
    # rating is per content: copy.jpg (7) shares cat1.jpg's bytes and so its rating.
    assert match(project, "rating", op, value) == expected


@pytest.mark.parametrize("property, op, value, expected", [
    ("name", "contains", "CAT", {1, 2}),
    ("name", "startswith", "é", {6}),            # Unicode case folding, not ASCII only
    ("name", "eq", "Cat2.JPG", {2}),
    ("name", "eq", "cat2.jpg", set()),            # eq is exact
    ("name", "matches", r"^[a-z]+\.png$", {3, 4}),
    ("name", "matches", r"(?i)^cat\d", {1, 2}),
    ("caption", "contains", "cat", {1, 2}),
    ("caption", "startswith", "ÉLAN", {6}),
    ("caption", "eq", "007", {7}),                # text that looks like a number stays text
    ("caption", "gt", "dog", {2, 6}),
    ("caption", "ne", "dog", ALL - {3}),          # images without a caption are "not dog"
    ("caption", "is_empty", None, {4, 5, 8}),
    ("format", "eq", "PNG", {3, 4}),
    ("path", "contains", "/b/c/", {6, 7, 8}),
    ("folder", "startswith", "/data/b", {4, 5, 6, 7, 8}),
    ("folder", "eq", "/data/a", {1, 2, 3}),
    ("source", "contains", "box1", {2}),
    ("link", "contains", "EXAMPLE.org", {1}),
    ("link", "matches", r"item/\d+$", {1}),
    ("hue", "eq", "#f00", {1}),                   # colours compare in their stored form
    ("hue", "is_set", None, {1}),
])
def test_text_family_ops(project, property, op, value, expected):
    assert match(project, property, op, value) == expected


@pytest.mark.parametrize("op, value, expected", [
    ("eq", "2019", {1, 2, 3, 7, 8}), ("eq", "2019-05", {1, 2, 7, 8}), ("eq", "2019-05-03", {1, 7}),
    ("eq", "2019-05-03T10:00:00", {1, 7}), ("eq", "2019-05-03 10:00", {1, 7}),
    ("lt", "2019-05", {6}), ("le", "2019-05", {1, 2, 6, 7, 8}), ("gt", "2019-05", {3, 4}),
    ("ge", "2019-05-20", {2, 3, 4, 8}), ("gt", "2019-12-31", {4}), ("le", "2018", {6}),
    ("ne", "2019", {4, 5, 6}), ("is_empty", None, {5}),
])
def test_dates_name_whole_periods(project, op, value, expected):
    assert match(project, "taken", op, value) == expected


@pytest.mark.parametrize("op, value, expected", [
    ("eq", "2019", {1, 2, 3}), ("eq", "2019-05", {2, 3}), ("ge", "2020-02", {4}), ("eq", "2020-02-29", {4}),
    ("lt", "2019-06", {1, 2, 3}), ("is_empty", None, ALL - {1, 2, 3, 4}),
])
def test_user_dates_keep_partial_values(project, op, value, expected):
    assert match(project, "when", op, value) == expected


def test_modified_and_imported_are_dates(project):
    assert match(project, "modified", "eq", "2024-01") == ALL
    assert match(project, "imported", "lt", "2024-02-01") == set()


@pytest.mark.parametrize("op, value, expected", [
    ("eq", True, {1, 3}), ("eq", "yes", {1, 3}), ("eq", False, ALL - {1, 3}), ("ne", True, ALL - {1, 3}),
    ("ne", False, {1, 3}), ("is_set", None, {1, 2, 3}), ("is_empty", None, ALL - {1, 2, 3}),
])
def test_checkbox_unset_reads_as_unchecked(project, op, value, expected):
    assert match(project, "reviewed", op, value) == expected


@pytest.mark.parametrize("op, value, expected", [
    ("has_any", ["animal"], {1, 2, 3, 6}),         # kitten is a grandchild of animal
    ("has_any", ["cat"], {1, 2}),
    ("has_any", "kitten", {1}),
    ("has_any", ["dog", "person"], {2, 3, 4}),
    ("has_all", ["cat", "person"], {2}),
    ("has_all", ["animal", "person"], {2}),
    ("has_none", ["animal"], {4, 5, 7, 8}),
    ("eq", "dog", {3}), ("eq", "animal", {1, 2, 3, 6}), ("ne", "cat", ALL - {1, 2}),
    ("is_set", None, {1, 2, 3, 4, 6}), ("is_empty", None, {5, 7, 8}),
])
def test_tag_ops_include_descendants(project, op, value, expected):
    assert match(project, "subject", op, value) == expected


def test_tags_by_id_and_single_tag_properties(project):
    cat = project.tag("subject", "cat")["id"]
    assert match(project, "subject", "has_any", [cat]) == {1, 2}
    assert match(project, "place", "eq", "paris") == {1, 2}
    assert match(project, "place", "has_none", ["paris"]) == ALL - {1, 2}


def test_and_or_not_nest(project):
    wide_or_png = {"or": [{"property": "width", "op": "ge", "value": 1600},
                          {"property": "format", "op": "eq", "value": "PNG"}]}
    assert set(ids(project, wide_or_png)) == {2, 3, 4, 5, 8}
    assert set(ids(project, {"and": [wide_or_png, {"not": {"property": "subject", "op": "is_set"}}]})) == {5, 8}
    assert set(ids(project, {"not": {"and": [wide_or_png, {"property": "taken", "op": "is_set"}]}})) == {1, 5, 6, 7}
    assert set(ids(project, {"not": {"property": "taken", "op": "lt", "value": "2019"}})) == ALL - {6}
    assert set(ids(project, {"and": []})) == ALL
    assert ids(project, {"or": []}) == []


def test_functions_work_on_the_connection_of_any_thread(project):
    found = []
    thread = threading.Thread(target=lambda: found.append(match(project, "name", "matches", "^dog")))
    thread.start()
    thread.join()
    assert found == [{3}]


# ---- sort -----------------------------------------------------------------------------------------

def test_default_order_is_by_id(project):
    assert ids(project) == sorted(ALL)


def test_sort_desc_multi_key_and_ties_by_id(project):
    assert ids(project, sort=[{"property": "width", "desc": True}]) == [5, 2, 8, 3, 1, 7, 6, 4]
    assert ids(project, sort=[{"property": "format"}, {"property": "size", "desc": True}]) == [5, 2, 8, 1, 7, 6, 3, 4]
    assert ids(project, sort={"property": "size"}) == [4, 6, 1, 7, 3, 2, 8, 5]


def test_numeric_keys_before_and_after_text_keys(project):
    # Numeric keys ahead of the first text key are applied by NumPy, the others by SQLite: same order rules.
    assert ids(project, sort=[{"property": "width"}, {"property": "name", "desc": True}]) == [4, 6, 7, 1, 3, 8, 2, 5]
    assert ids(project, sort=[{"property": "format"}, {"property": "taken", "desc": True}]) == [2, 8, 1, 7, 6, 5, 4, 3]


def test_partial_dates_sort_as_the_start_of_their_period(project):
    assert ids(project, sort=[{"property": "when"}]) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert ids(project, sort=[{"property": "when", "desc": True}]) == [4, 3, 2, 1, 5, 6, 7, 8]


def test_missing_values_sort_last_in_both_directions(project):
    assert ids(project, sort=[{"property": "taken"}]) == [6, 1, 7, 2, 8, 3, 4, 5]
    assert ids(project, sort=[{"property": "taken", "desc": True}]) == [4, 3, 2, 8, 1, 7, 6, 5]
    assert ids(project, sort=[{"property": "rating", "desc": True}])[:5] == [1, 7, 3, 2, 4]
    # Text sorts ignore (ASCII) case: "white CAT" between "dog" and "élan vital".
    assert ids(project, sort=[{"property": "caption"}]) == [7, 1, 3, 2, 6, 4, 5, 8]


def test_sort_by_tags_uses_the_first_tag_name(project):
    # 6 animal, 2 cat (and person), 3 dog, 1 kitten, 4 person, then the untagged by id.
    assert ids(project, sort=[{"property": "subject"}]) == [6, 2, 3, 1, 4, 5, 7, 8]


def test_sort_applies_to_a_filtered_view(project):
    assert ids(project, {"property": "format", "op": "eq", "value": "JPEG"},
               [{"property": "name", "desc": True}]) == [6, 5, 8, 7, 2, 1]


# ---- group ----------------------------------------------------------------------------------------

def shape(groups) -> list:
    return [(g["key"], g["count"], shape(g["groups"])) if g["groups"] else (g["key"], g["count"]) for g in groups]


def members(result, group) -> list[int]:
    return result["ids"][group["start"]:group["end"]]


@pytest.mark.parametrize("by, expected", [
    ("year", [("2018", 1), ("2019", 5), ("2020", 1), (None, 1)]),
    ("month", [("2018-12", 1), ("2019-05", 4), ("2019-06", 1), ("2020-01", 1), (None, 1)]),
    ("week", [("2019-W01", 1), ("2019-W18", 2), ("2019-W21", 2), ("2019-W22", 1), ("2020-W01", 1), (None, 1)]),
    ("day", [("2018-12-31", 1), ("2019-05-03", 2), ("2019-05-20", 2), ("2019-06-01", 1), ("2020-01-01", 1),
             (None, 1)]),
])
def test_group_dates_by_period(project, by, expected):
    result = project.query(group=[{"property": "taken", "by": by}])
    assert shape(result["groups"]) == expected
    assert result["groups"][-1]["end"] == result["rows"] == result["total"] == len(ALL)


def test_partial_dates_keep_their_precision_as_group_key(project):
    result = project.query(group=[{"property": "when", "by": "month"}])
    assert shape(result["groups"]) == [("2019", 1), ("2019-05", 2), ("2020-02", 1), (None, 4)]
    week = project.query(group=[{"property": "when", "by": "week"}])
    assert [g["key"] for g in week["groups"]] == ["2019", "2019-05", "2019-W18", "2020-W09", None]


def test_group_orders_members_by_the_sort_keys(project):
    result = project.query(sort=[{"property": "size", "desc": True}], group=[{"property": "folder"}])
    assert shape(result["groups"]) == [("/data/a", 3), ("/data/b", 2), ("/data/b/c", 3)]
    assert [members(result, g) for g in result["groups"]] == [[2, 3, 1], [5, 4], [8, 7, 6]]


def test_group_numbers_by_bins(project):
    result = project.query(group=[{"property": "width", "bin": 1000}])
    assert shape(result["groups"]) == [(0, 4), (1000, 3), (5000, 1)]
    rating = project.query(group=[{"property": "rating", "bin": 2.5}])["groups"]
    assert shape(rating) == [(0, 1), (2.5, 2), (5, 2), (None, 3)]  # 1 | 3, 4.5 | 5 twice (a shared content)


def test_group_raw_values_and_checkboxes(project):
    assert shape(project.query(group=[{"property": "format"}])["groups"]) == [("JPEG", 6), ("PNG", 2)]
    assert shape(project.query(group=[{"property": "reviewed"}])["groups"]) == [(False, 1), (True, 2), (None, 5)]
    assert shape(project.query(group=[{"property": "format", "desc": True}])["groups"]) == [("PNG", 2), ("JPEG", 6)]


def test_group_raw_numbers_keep_integer_keys(project):
    groups = project.query(group=[{"property": "height"}])["groups"]
    assert shape(groups) == [(300, 1), (480, 1), (600, 2), (768, 1), (900, 1), (1200, 1), (4000, 1)]
    assert all(type(g["key"]) is int for g in groups)


def test_group_by_tag_descending_with_a_numeric_sort(project):
    result = project.query(sort=[{"property": "width", "desc": True}], group=[{"property": "subject", "desc": True}])
    assert [g["key"] for g in result["groups"]] == ["person", "kitten", "dog", "cat", "animal", None]
    assert [members(result, g) for g in result["groups"]] == [[2, 4], [1], [3], [2], [6], [5, 8, 7]]


def test_group_by_multi_tag_puts_an_image_in_each_of_its_groups(project):
    result = project.query(group=[{"property": "subject"}])
    assert shape(result["groups"]) == [("animal", 1), ("cat", 1), ("dog", 1), ("kitten", 1), ("person", 2),
                                       (None, 3)]
    by_key = {g["key"]: members(result, g) for g in result["groups"]}
    assert by_key["cat"] == [2] and by_key["person"] == [2, 4] and by_key[None] == [5, 7, 8]
    assert result["total"] == len(ALL) and result["rows"] == len(ALL) + 1


def test_nested_groups(project):
    result = project.query(sort=[{"property": "name"}],
                           group=[{"property": "taken", "by": "year"}, {"property": "place"}])
    assert shape(result["groups"]) == [
        ("2018", 1, [(None, 1)]),
        ("2019", 5, [("paris", 2), ("rome", 1), (None, 2)]),
        ("2020", 1, [(None, 1)]),
        (None, 1, [(None, 1)]),
    ]
    year_2019 = result["groups"][1]
    assert (year_2019["start"], year_2019["end"]) == (1, 6)
    assert [members(result, g) for g in year_2019["groups"]] == [[1, 2], [3], [7, 8]]


def test_windows_cut_ids_but_keep_counts(project):
    full = project.query(sort=[{"property": "size"}], group=[{"property": "format"}])
    window = project.query(sort=[{"property": "size"}], group=[{"property": "format"}], limit=3, offset=2)
    assert window["ids"] == full["ids"][2:5]
    assert window["groups"] == full["groups"] and window["total"] == full["total"] == len(ALL)
    assert project.query(limit=0)["ids"] == [] and project.query(offset=100)["ids"] == []


def test_empty_results(project):
    result = project.query({"property": "width", "op": "gt", "value": 10**6}, group=[{"property": "format"}])
    assert result == {"total": 0, "rows": 0, "ids": [], "groups": []}


def test_query_ids_and_compiled_view(project):
    condition = {"property": "caption", "op": "contains", "value": "cat"}
    assert project.query_ids(condition, [{"property": "name", "desc": True}]) == [2, 1]
    view = project.compile_view(condition)
    assert "SELECT" in view.sql and view.params == ("cat",)


def test_results_follow_changes(tmp_path):
    with imagier.open(tmp_path / "p.imagier") as p:
        add_images(p, IMAGES[:3])
        p.create_property("subject", "multi-tag")
        p.create_tag("subject", "animal")
        p.add_values("subject", [1, 3], ["animal"])
        assert p.query_ids({"property": "subject", "op": "has_any", "value": ["animal"]}) == [1, 3]
        p.create_tag("subject", "cat", parents=["animal"])
        p.add_values("subject", [2], ["cat"])
        assert p.query_ids({"property": "subject", "op": "has_any", "value": ["animal"]}) == [1, 2, 3]
        p.undo()
        assert p.query_ids({"property": "subject", "op": "has_any", "value": ["animal"]}) == [1, 3]


# ---- bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize("filter, error, words", [
    ({"property": "colr", "op": "eq", "value": "red"}, NotFound, ["no property named 'colr'"]),
    ({"property": "width", "op": "equals", "value": 3}, InvalidInput, ["width", "unknown op 'equals'"]),
    ({"property": "width", "op": "has_any", "value": [3]}, InvalidInput, ["width", "'has_any'", "number"]),
    ({"property": "subject", "op": "lt", "value": "cat"}, InvalidInput, ["subject", "'lt'", "multi-tag"]),
    ({"property": "taken", "op": "contains", "value": "2019"}, InvalidInput, ["taken", "'contains'"]),
    ({"property": "reviewed", "op": "gt", "value": True}, InvalidInput, ["reviewed", "'gt'"]),
    ({"property": "width", "op": "gt", "value": "wide"}, InvalidInput, ["width", "'wide' is not a number"]),
    ({"property": "width", "op": "gt", "value": True}, InvalidInput, ["width", "not a number"]),
    ({"property": "rating", "op": "eq", "value": ""}, InvalidInput, ["rating", "empty"]),
    ({"property": "name", "op": "matches", "value": "(unclosed"}, InvalidInput,
     ["name", "'(unclosed' is not a valid regular expression"]),
    ({"property": "taken", "op": "eq", "value": "2019-13"}, InvalidInput, ["taken", "'2019-13'", "not a valid date"]),
    ({"property": "when", "op": "lt", "value": "last year"}, InvalidInput, ["when", "'last year' is not a date"]),
    ({"property": "when", "op": "lt", "value": 2019}, InvalidInput, ["when", "not a date"]),
    ({"property": "reviewed", "op": "eq", "value": "maybe"}, InvalidInput, ["reviewed", "'maybe'"]),
    ({"property": "subject", "op": "has_any", "value": ["unicorn"]}, NotFound, ["subject has no tag 'unicorn'"]),
    ({"property": "subject", "op": "has_any", "value": []}, InvalidInput, ["subject", "at least one tag"]),
    ({"property": "subject", "op": "eq", "value": ["cat", "dog"]}, InvalidInput, ["subject", "has_any"]),
    ({"property": "width", "op": "gt"}, InvalidInput, ["width", "needs a value"]),
    ({"property": "width", "value": 3}, InvalidInput, ["needs 'property' and 'op'"]),
    ({"property": "width", "op": "gt", "value": 3, "vale": 4}, InvalidInput, ["unexpected key 'vale'"]),
    ({"property": 3, "op": "gt", "value": 3}, InvalidInput, ["'property' must be a property name"]),
    ({"and": {"property": "width"}}, InvalidInput, ["'and' takes a list"]),
    ({"and": [], "or": []}, InvalidInput, ["no other keys"]),
    ([{"property": "width", "op": "gt", "value": 3}], InvalidInput, ["a filter is a JSON object"]),
    ({"not": "width"}, InvalidInput, ["a filter is a JSON object"]),
])
def test_bad_filters_name_the_fault(project, filter, error, words):
    with pytest.raises(error) as caught:
        project.query(filter)
    for word in words:
        assert word in caught.value.message
    assert type(caught.value) is error


@pytest.mark.parametrize("sort, group, words", [
    ([{"property": "colr"}], None, ["no property named 'colr'"]),
    ([{"property": "width", "desc": "yes"}], None, ["sort on width", "'desc' must be true or false"]),
    ([{"property": "width", "direction": "up"}], None, ["unexpected key 'direction'"]),
    (["width"], None, ["each sort key is an object"]),
    ("width", None, ["sort is a list"]),
    (None, [{"property": "taken", "by": "fortnight"}], ["group by taken", "'by' must be one of year, month"]),
    (None, [{"property": "width", "by": "year"}], ["group by width", "'by' applies to dates only"]),
    (None, [{"property": "width", "bin": 0}], ["group by width", "'bin' must be a positive number"]),
    (None, [{"property": "width", "bin": "ten"}], ["'bin' must be a positive number, not 'ten'"]),
    (None, [{"property": "name", "bin": 10}], ["group by name", "'bin' applies to numbers only"]),
    (None, [{"property": "subject", "order": 1}], ["unexpected key 'order' in group"]),
    (None, [{"property": "colr"}], ["no property named 'colr'"]),
])
def test_bad_sorts_and_groups_name_the_fault(project, sort, group, words):
    with pytest.raises((InvalidInput, NotFound)) as caught:
        project.query(sort=sort, group=group)
    for word in words:
        assert word in caught.value.message


@pytest.mark.parametrize("kwargs", [{"limit": -1}, {"offset": -2}, {"limit": "10"}, {"offset": 1.5}])
def test_bad_windows(project, kwargs):
    with pytest.raises(InvalidInput, match="must be a non-negative integer"):
        project.query(**kwargs)


def test_values_that_look_like_numbers_survive_in_text_properties(tmp_path):
    # property_values.value has no type affinity: "007" stays text, not the integer 7.
    with imagier.open(tmp_path / "p.imagier") as p:
        add_images(p, IMAGES[:1])
        p.create_property("code", "text")
        p.set_values("code", [1], "007")
        assert p.values([1])[1]["code"] == "007"


def test_the_schema_snapshot_is_read_again_after_any_commit_only(tmp_path):
    with imagier.open(tmp_path / "p.imagier") as p:
        add_images(p, IMAGES[:2])
        before = p.querying.schema()
        assert p.querying.schema() is before  # nothing committed: the snapshot is reused
        p.create_property("subject", "multi-tag")
        p.create_tag("subject", "cat")
        assert p.query_ids({"property": "subject", "op": "is_empty"}) == [1, 2]
        # A commit by another connection to the file, as another process's would be.
        with imagier.open(tmp_path / "p.imagier") as other:
            other.create_tag("subject", "kitten", parents=["cat"])
            other.add_values("subject", [2], ["kitten"])
        assert p.query_ids({"property": "subject", "op": "has_any", "value": ["cat"]}) == [2]
        assert p.querying.schema() is not before
