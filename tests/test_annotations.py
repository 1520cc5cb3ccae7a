"""Properties, tags and values through the Python API, with undo and redo that survive a restart."""

import pytest

import imagier
from imagier.errors import Conflict, InvalidInput, NotFound


@pytest.fixture
def ids(imported):
    return sorted(f["id"] for f in imported.files(range(1, 100)))


def by_name(project, name):
    return next(f for f in project.files(range(1, 100)) if f["path"].endswith(name))


def test_every_type_of_property_stores_and_returns_its_values(imported, ids):
    cases = {"text": "a street in Paris", "number": 3.5, "date": "2019-05-03T14:02:00", "checkbox": True,
             "url": "https://example.org/tweet/1", "colour": "#00aaff", "path": "/archives/box 3",
             "tag": "cups", "multi-tag": ["cups", "tv"]}
    for type_, value in cases.items():
        imported.create_property(f"p {type_}", type_)
        imported.set_values(f"p {type_}", ids[:2], value)
    got = imported.values(ids[:3])
    for type_, value in cases.items():
        assert got[ids[0]][f"p {type_}"] == value
        assert got[ids[1]][f"p {type_}"] == value
        assert f"p {type_}" not in got[ids[2]]


def test_values_are_converted_to_their_type(imported, ids):
    imported.create_property("count", "number")
    imported.create_property("seen", "checkbox")
    imported.create_property("when", "date")
    imported.create_property("tint", "colour")
    imported.set_values("count", ids[:1], "12")
    imported.set_values("seen", ids[:1], "yes")
    imported.set_values("when", ids[:1], "2019:05:03 14:02:00")
    imported.set_values("tint", ids[:1], "#ABC")
    assert imported.values(ids[:1])[ids[0]] == {"count": 12, "seen": True, "when": "2019-05-03T14:02:00",
                                                 "tint": "#aabbcc"}


@pytest.mark.parametrize("type_, bad, reason", [
    ("number", "twelve", "not a number"), ("date", "next tuesday", "not a date"),
    ("date", "2019-13", "not a valid date"), ("checkbox", "maybe", "not a checkbox value"),
    ("url", "example.org", "not a URL"), ("colour", "blue", "not a colour"), ("number", float("nan"), "finite"),
])
def test_a_value_of_the_wrong_type_is_refused_and_nothing_changes(imported, ids, state_of, type_, bad, reason):
    imported.create_property("p", type_)
    imported.set_values("p", ids[:1], {"number": 1, "date": "2020", "checkbox": False, "url": "https://a.b",
                                      "colour": "#000000"}[type_])
    before = state_of(imported)
    with pytest.raises(InvalidInput, match=reason):
        imported.set_values("p", ids, bad)
    assert state_of(imported) == before


def test_content_scoped_values_are_shared_by_files_with_the_same_bytes(imported):
    original = by_name(imported, "2019/astronaut.jpg")
    copy = by_name(imported, "copies/astronaut-copy.jpg")
    assert original["content_id"] == copy["content_id"]
    imported.create_property("caption", "text", scope="content")
    imported.create_property("seen by", "text", scope="file")
    imported.set_values("caption", [original["id"]], "an astronaut")
    imported.set_values("seen by", [original["id"]], "ana")
    values = imported.values([original["id"], copy["id"]])
    assert values[copy["id"]] == {"caption": "an astronaut"}
    assert values[original["id"]] == {"caption": "an astronaut", "seen by": "ana"}


def test_properties_are_created_renamed_and_deleted(imported, ids):
    imported.create_property("Category", "multi-tag")
    imported.set_values("category", ids[:1], ["cups"])  # names are case-insensitive
    imported.rename_property("category", "subject")
    assert imported.values(ids[:1])[ids[0]] == {"subject": ["cups"]}
    imported.delete_property("subject")
    assert imported.values(ids[:1])[ids[0]] == {}
    assert [p["name"] for p in imported.properties() if not p["builtin"]] == []


def test_builtin_properties_are_listed_and_read_only(imported, ids):
    names = [p["name"] for p in imported.properties() if p["builtin"]]
    assert names == ["path", "folder", "name", "format", "width", "height", "size", "modified", "taken",
                     "hash", "imported", "film", "time", "timecode", "shot", "shot start", "shot end"]
    with pytest.raises(InvalidInput, match="built-in"):
        imported.set_values("width", ids[:1], 10)
    with pytest.raises(InvalidInput, match="built-in"):
        imported.create_property("taken", "date")


@pytest.mark.parametrize("call, error, words", [
    (lambda p, i: p.create_property("", "text"), InvalidInput, "non-empty name"),
    (lambda p, i: p.create_property("x", "integer"), InvalidInput, "unknown property type"),
    (lambda p, i: p.create_property("x", "text", scope="folder"), InvalidInput, "unknown scope"),
    (lambda p, i: p.create_property("note", "text"), Conflict, "already exists"),
    (lambda p, i: p.rename_property("ghost", "x"), NotFound, "no property named 'ghost'"),
    (lambda p, i: p.set_values("note", [10**9], "x"), NotFound, "no image with id 1000000000"),
    (lambda p, i: p.remove_values("kind", [*i, 10**9, 10**9 + 1]), NotFound, "no image with id 1000000000, 1000000001"),
    (lambda p, i: p.set_values("note", ["one"], "x"), InvalidInput, "ids must be integers"),
    (lambda p, i: p.add_values("note", i, ["x"]), InvalidInput, "not a tag property"),
    (lambda p, i: p.set_values("kind", i, ["a", "b"]), InvalidInput, "one tag per image"),
    (lambda p, i: p.create_tag("kind", "a,b"), InvalidInput, "cannot contain a comma"),
    (lambda p, i: p.create_property("cap\x00tion", "text"), InvalidInput, "control characters"),
    (lambda p, i: p.rename_property("note", "no\tte"), InvalidInput, "control characters"),
    (lambda p, i: p.create_tag("kind", "a\x07b"), InvalidInput, "control characters"),
    (lambda p, i: p.create_tag("kind", "a\nb"), InvalidInput, "control characters"),
    (lambda p, i: p.remove_values("kind", i, ["ghost"]), NotFound, "no tag 'ghost'"),
    # ids beyond SQLite's 64-bit integers name no row (they were an OverflowError)
    (lambda p, i: p.property(2 ** 64), NotFound, "no property named 18446744073709551616"),
    (lambda p, i: p.tag("kind", 2 ** 64), NotFound, "kind has no tag 18446744073709551616"),
    (lambda p, i: p.create_tag("kind", "b", parents=[-2 ** 70]), NotFound, "kind has no tag"),
    (lambda p, i: p.resume_import(2 ** 64), NotFound, "no import job 18446744073709551616"),
])
def test_bad_requests_get_a_clear_error_and_change_nothing(imported, ids, state_of, call, error, words):
    imported.create_property("note", "text")
    imported.create_property("kind", "tag")
    before = state_of(imported)
    with pytest.raises(error, match=words):
        call(imported, ids)
    assert state_of(imported) == before


def test_tags_have_colours_parents_and_counts(imported, ids):
    imported.create_property("subject", "multi-tag")
    imported.create_tag("subject", "politician", colour="#112233")
    imported.create_tag("subject", "le pen", parents=["politician"])
    imported.add_values("subject", ids[:3], ["le pen"])
    tags = {t["name"]: t for t in imported.tags("subject")}
    assert tags["politician"]["colour"] == "#112233"
    assert tags["le pen"]["parents"] == [tags["politician"]["id"]]
    assert tags["le pen"]["count"] == 3 and tags["politician"]["count"] == 0
    imported.update_tag("subject", "le pen", name="marion", colour="#445566", parents=[])
    renamed = imported.tag("subject", "marion")
    assert (renamed["colour"], renamed["parents"], renamed["count"]) == ("#445566", [], 3)


def test_a_tag_cycle_is_refused(imported, state_of):
    imported.create_property("subject", "multi-tag")
    imported.create_tag("subject", "animal")
    imported.create_tag("subject", "cat", parents=["animal"])
    imported.create_tag("subject", "kitten", parents=["cat"])
    before = state_of(imported)
    with pytest.raises(Conflict, match="cycle"):
        imported.update_tag("subject", "animal", parents=["kitten"])
    with pytest.raises(Conflict, match="cycle"):
        imported.update_tag("subject", "cat", parents=["cat"])
    assert state_of(imported) == before


def test_add_and_remove_tags_keep_the_others(imported, ids):
    imported.create_property("subject", "multi-tag")
    imported.set_values("subject", ids[:2], ["cups", "tv"])
    imported.add_values("subject", ids[1:3], ["street"])
    imported.remove_values("subject", ids[:2], ["tv"])
    got = imported.values(ids[:3])
    assert [got[i].get("subject") for i in ids[:3]] == [["cups"], ["cups", "street"], ["street"]]
    imported.remove_values("subject", ids[:3])
    assert all("subject" not in v for v in imported.values(ids[:3]).values())


def test_merging_tags_moves_images_and_children(imported, ids):
    imported.create_property("subject", "multi-tag")
    imported.create_tag("subject", "mug")
    imported.create_tag("subject", "cup")
    imported.create_tag("subject", "espresso cup", parents=["cup"])
    imported.set_values("subject", ids[:1], ["mug"])
    imported.set_values("subject", ids[1:2], ["cup", "mug"])
    merged = imported.merge_tags("subject", ["cup"], into="mug")
    assert merged["count"] == 2
    assert [t["name"] for t in imported.tags("subject")] == ["espresso cup", "mug"]
    assert imported.tag("subject", "espresso cup")["parents"] == [merged["id"]]
    assert imported.values(ids[1:2])[ids[1]] == {"subject": ["mug"]}


def test_set_many_gives_each_image_its_own_value_in_one_operation(imported, ids):
    imported.create_property("rank", "number")
    imported.set_many("rank", {i: n for n, i in enumerate(ids[:5])})
    assert [imported.values([i])[i]["rank"] for i in ids[:5]] == [0, 1, 2, 3, 4]
    assert imported.history()[0]["kind"] == "set_many"
    imported.undo()
    assert all(v == {} for v in imported.values(ids[:5]).values())


def test_undo_and_redo_walk_the_log_and_survive_a_restart(imported, ids, tmp_path):
    imported.create_property("subject", "multi-tag")
    imported.add_values("subject", ids, ["cups"])
    imported.delete_property("subject")
    path = imported.path
    imported.close()
    with imagier.open(path) as reopened:
        assert reopened.undo()["kind"] == "delete_property"
        assert reopened.values(ids[:1])[ids[0]] == {"subject": ["cups"]}  # values come back with it
        assert reopened.undo()["kind"] == "add_values"
        assert reopened.values(ids[:1])[ids[0]] == {}
    with imagier.open(path) as again:
        assert again.redo()["kind"] == "add_values"
        assert again.values(ids[:1])[ids[0]] == {"subject": ["cups"]}
        again.set_values("subject", ids[:1], ["tv"])  # a new change drops what could be redone
        with pytest.raises(Conflict, match="nothing to redo"):
            again.redo()
        states = [(op["kind"], op["state"]) for op in again.history()[:3]]
        assert states == [("set_values", "done"), ("add_values", "done"), ("create_property", "done")]


def test_undo_with_an_empty_log_is_a_clear_error(project):
    with pytest.raises(Conflict, match="nothing to undo"):
        project.undo()


def test_tagging_a_large_selection_is_one_operation(imported, ids):
    imported.create_property("subject", "multi-tag")
    before = len(imported.history())
    imported.add_values("subject", ids, ["cups", "street"])
    assert len(imported.history()) == before + 1
    imported.undo()
    assert all(v == {} for v in imported.values(ids).values())
