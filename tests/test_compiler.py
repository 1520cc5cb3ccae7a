"""The pure query compiler: hand-built schemas in, SQL and parameters out, with no database anywhere.

tests/test_query.py runs the statements on a project file; these tests read what the compiler writes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from imagier.errors import InvalidInput, NotFound
from imagier.store.compiler import MAX_FILTER_DEPTH, Schema, Tag, compile_view

SRC = Path(__file__).resolve().parents[1] / "src"


def prop(id, name, type, scope="file") -> dict:
    return {"id": id, "name": name, "type": type, "scope": scope, "builtin": False, "machine": False}


SCHEMA = Schema(
    properties=(prop(1, "caption", "text"), prop(2, "rating", "number", scope="content"), prop(3, "when", "date"),
                prop(4, "reviewed", "checkbox"), prop(5, "hue", "colour"), prop(6, "subject", "multi-tag"),
                prop(7, "Épaisseur", "number")),
    # animal > cat > kitten, animal > dog; kitten also under pet, a second parent.
    tags={6: (Tag(10, "animal"), Tag(11, "cat", (10,)), Tag(12, "kitten", (11, 15)), Tag(13, "dog", (10,)),
              Tag(14, "plant"), Tag(15, "pet"))},
)


def where(filter) -> tuple[str, tuple]:
    """The WHERE clause of a filter alone, and its parameters."""
    view = compile_view(SCHEMA, filter)
    return view.sql.split(" WHERE ", 1)[1].rsplit(" ORDER BY ", 1)[0], view.params


def user_value(id: int, predicate: str, key: str = "f.id") -> str:
    return f"{key} IN (SELECT target_id FROM property_values WHERE property_id = {id} AND {predicate})"


def tagged(tag_ids) -> str:
    ids = ", ".join(map(str, tag_ids))
    return f"f.id IN (SELECT target_id FROM tag_values WHERE property_id = 6 AND tag_id IN ({ids}))"


# ---- one condition per property family ------------------------------------------------------------

@pytest.mark.parametrize("filter, sql, params", [
    ({"property": "width", "op": "gt", "value": 800}, "c.width IS NOT NULL AND c.width > ?", (800,)),
    ({"property": "rating", "op": "le", "value": "4.5"}, user_value(2, "value <= ?", key="f.content_id"), (4.5,)),
    ({"property": "rating", "op": "is_set"},
     "f.content_id IN (SELECT target_id FROM property_values WHERE property_id = 2)", ()),
    ({"property": "rating", "op": "is_empty"},
     "NOT (f.content_id IN (SELECT target_id FROM property_values WHERE property_id = 2))", ()),
])
def test_numbers_builtin_and_per_content(filter, sql, params):
    assert where(filter) == (sql, params)


@pytest.mark.parametrize("filter, sql, params", [
    ({"property": "caption", "op": "contains", "value": "Straße"},
     user_value(1, "instr(imagier_fold(value), ?) > 0"), ("strasse",)),
    ({"property": "caption", "op": "ne", "value": "Cat"}, f"NOT ({user_value(1, 'value = ?')})", ("Cat",)),
    ({"property": "caption", "op": "matches", "value": "^(?i)cat"}, user_value(1, "value REGEXP ?"), ("^(?i)cat",)),
    ({"property": "name", "op": "startswith", "value": "ÉL"},
     "f.name IS NOT NULL AND instr(imagier_fold(f.name), ?) = 1", ("él",)),
    ({"property": "folder", "op": "eq", "value": "/data"}, "fo.path IS NOT NULL AND fo.path = ?", ("/data",)),
])
def test_text(filter, sql, params):
    assert where(filter) == (sql, params)


@pytest.mark.parametrize("op, value, sql, params", [
    ("eq", "2019-05", "value >= ? AND value < ?", ("2019-05", "2019-06")),
    ("eq", "2019-12", "value >= ? AND value < ?", ("2019-12", "2020-01")),
    ("lt", "2019", "value < ?", ("2019",)),
    ("le", "2019", "value < ?", ("2020",)),
    ("gt", "2019-02-28", "value >= ?", ("2019-03-01",)),
    ("ge", "2019-05-03T10:00:00", "value >= ?", ("2019-05-03T10:00:00",)),
])
def test_dates_name_periods(op, value, sql, params):
    assert where({"property": "when", "op": op, "value": value}) == (user_value(3, sql), params)


def test_an_unset_checkbox_reads_as_unchecked():
    ticked = user_value(4, "value = ?")
    assert where({"property": "reviewed", "op": "eq", "value": True}) == (ticked, (1,))
    assert where({"property": "reviewed", "op": "eq", "value": False}) == (f"NOT ({ticked})", (1,))
    assert where({"property": "reviewed", "op": "ne", "value": False}) == (ticked, (1,))


def test_colours_compare_normalised():
    assert where({"property": "hue", "op": "eq", "value": "#F00"}) == (user_value(5, "value = ?"), ("#ff0000",))


@pytest.mark.parametrize("filter, sql", [
    ({"property": "subject", "op": "eq", "value": "cat"}, tagged([11, 12])),
    ({"property": "subject", "op": "has_any", "value": ["animal"]}, tagged([10, 11, 12, 13])),
    ({"property": "subject", "op": "has_any", "value": ["pet", 14]}, tagged([12, 14, 15])),
    ({"property": "subject", "op": "has_all", "value": [" cat ", "dog"]}, f"{tagged([11, 12])} AND {tagged([13])}"),
    ({"property": "subject", "op": "has_none", "value": ["dog"]}, f"NOT ({tagged([13])})"),
    ({"property": "subject", "op": "is_set"},
     "f.id IN (SELECT target_id FROM tag_values WHERE property_id = 6)"),
])
def test_tags_match_their_descendants(filter, sql):
    assert where(filter) == (sql, ())


def test_property_names_ignore_ascii_case_only_as_sqlite_nocase_does():
    assert where({"property": "CAPTION", "op": "eq", "value": "x"}) == (user_value(1, "value = ?"), ("x",))
    assert where({"property": "ÉPAISSEUR", "op": "is_set"})[0].endswith("property_id = 7)")
    with pytest.raises(NotFound, match="no property named 'épaisseur'"):
        compile_view(SCHEMA, {"property": "épaisseur", "op": "is_set"})


# ---- nesting, sort and group -----------------------------------------------------------------------

def test_and_or_not_nest_with_parameters_in_order():
    sql, params = where({"and": [{"property": "width", "op": "gt", "value": 1},
                                 {"or": [{"property": "caption", "op": "eq", "value": "a"},
                                         {"not": {"property": "rating", "op": "lt", "value": 3}}]},
                                 {"and": []}, {"or": []}]})
    assert sql == ("(c.width IS NOT NULL AND c.width > ?) AND "
                   f"(({user_value(1, 'value = ?')}) OR (NOT ({user_value(2, 'value < ?', key='f.content_id')}))) "
                   "AND (1) AND (0)")
    assert params == (1, "a", 3)


def test_numeric_sort_keys_before_the_first_text_key_go_to_numpy():
    view = compile_view(SCHEMA, sort=[{"property": "rating", "desc": True}, {"property": "caption"},
                                      {"property": "taken", "desc": True}])
    assert [(k.expr, k.numeric, k.desc) for k in view.sort] == [("v2.value", True, True)]
    assert "LEFT JOIN property_values v2 ON v2.property_id = 2 AND v2.target_id = f.content_id" in view.sql
    assert view.sql.endswith(
        "ORDER BY v1.value COLLATE NOCASE NULLS LAST, "
        "unixepoch(c.taken || substr('-01-01T00:00:00', length(c.taken) - 3)) DESC NULLS LAST, f.id)")
    assert view.groups == () and view.params == ()


def test_text_sorts_ignore_case_and_tags_sort_by_their_first_name():
    view = compile_view(SCHEMA, sort=[{"property": "name"}, {"property": "subject"}, {"property": "hue"}])
    assert view.sort == ()
    assert view.sql.endswith(
        "ORDER BY f.name COLLATE NOCASE NULLS LAST, (SELECT min(t.name) FROM tag_values tv JOIN tags t "
        "ON t.id = tv.tag_id WHERE tv.property_id = 6 AND tv.target_id = f.id) NULLS LAST, v5.value NULLS LAST, f.id)")


def test_group_keys():
    view = compile_view(SCHEMA, group=[{"property": "subject", "desc": True}, {"property": "when", "by": "month"},
                                       {"property": "width", "bin": 100}, {"property": "reviewed"}])
    subject, when, width, reviewed = view.groups
    assert (subject.expr, subject.numeric, subject.desc) == ("t6.tag_id", True, True)
    assert subject.tag_names == {10: "animal", 11: "cat", 12: "kitten", 13: "dog", 14: "plant", 15: "pet"}
    assert (when.expr, when.numeric) == ("substr(v3.value, 1, 7)", False)
    assert (width.expr, width.numeric) == ("floor(c.width / 100.0) * 100.0", True)
    assert reviewed.field.type == "checkbox" and reviewed.numeric
    assert view.repeats  # a multi-tag grouping puts an image in each of its tags' groups
    assert "LEFT JOIN tag_values t6 ON t6.property_id = 6 AND t6.target_id = f.id" in view.sql
    assert "json_group_array(k1)" in view.sql and "group_concat(ifnull(k2, 'nan'), ',')" in view.sql
    week = compile_view(SCHEMA, group={"property": "taken", "by": "week"}).groups[0]
    assert week.expr == "CASE WHEN length(c.taken) >= 10 THEN strftime('%G-W%V', c.taken) ELSE c.taken END"
    assert not compile_view(SCHEMA, group={"property": "rating"}).repeats


# ---- errors --------------------------------------------------------------------------------------

def nested(depth: int) -> dict:
    node = {"property": "width", "op": "gt", "value": 1}
    for _ in range(depth):
        node = {"not": node}
    return node


@pytest.mark.parametrize("filter, error, words", [
    ({"property": "colr", "op": "eq", "value": "red"}, NotFound,
     ["no property named 'colr'", "caption, rating, when", "built-in: path"]),
    ({"property": "width", "op": "equals", "value": 3}, InvalidInput, ["filter on width: unknown op 'equals'"]),
    ({"property": "hue", "op": "lt", "value": "#fff"}, InvalidInput,
     ["filter on hue: op 'lt' does not apply to a colour property; use one of eq, ne, contains"]),
    ({"property": "subject", "op": "has_any", "value": ["unicorn"]}, NotFound, ["subject has no tag 'unicorn'"]),
    ({"property": "subject", "op": "has_any", "value": [99]}, NotFound, ["subject has no tag 99"]),
    ({"property": "subject", "op": "has_any", "value": [True]}, InvalidInput, ["a tag is named by a string or an id"]),
    ({"property": "when", "op": "eq", "value": "2019-13"}, InvalidInput, ["filter on when", "'2019-13'"]),
    ({"property": "caption", "op": "matches", "value": "(a)\\1"}, InvalidInput, ["not a valid regular expression"]),
    (nested(MAX_FILTER_DEPTH + 1), InvalidInput, [f"more than {MAX_FILTER_DEPTH} levels"]),
])
def test_bad_filters_name_the_fault(filter, error, words):
    with pytest.raises(error) as caught:
        compile_view(SCHEMA, filter)
    assert type(caught.value) is error
    for word in words:
        assert word in caught.value.message


def test_the_deepest_filter_allowed_compiles():
    assert where(nested(MAX_FILTER_DEPTH - 1))[0].count("NOT (") == MAX_FILTER_DEPTH - 1


@pytest.mark.parametrize("sort, group, words", [
    ([{"property": "colr"}], None, ["no property named 'colr'"]),
    ([{"property": "width", "desc": "yes"}], None, ["sort on width: 'desc' must be true or false"]),
    (None, [{"property": "when", "by": "fortnight"}], ["group by when: 'by' must be one of year, month"]),
    (None, [{"property": "caption", "bin": 10}], ["group by caption: 'bin' applies to numbers only"]),
])
def test_bad_sorts_and_groups_name_the_fault(sort, group, words):
    with pytest.raises((InvalidInput, NotFound)) as caught:
        compile_view(SCHEMA, sort=sort, group=group)
    for word in words:
        assert word in caught.value.message


def test_the_compiler_runs_where_no_database_can_be_opened():
    # A fresh interpreter in which importing apsw or sqlite3 fails: the compiler still loads and compiles.
    # The imagier package is entered without its __init__, which opens projects and so imports apsw.
    script = textwrap.dedent(f"""
        import sys, types
        sys.modules["apsw"] = sys.modules["sqlite3"] = None
        package = types.ModuleType("imagier")
        package.__path__ = [{str(SRC / "imagier")!r}]
        sys.modules["imagier"] = package
        from imagier.store.compiler import Schema, Tag, compile_view
        schema = Schema(({{"id": 1, "name": "subject", "type": "tag", "scope": "file"}},), {{1: (Tag(5, "cat"),)}})
        view = compile_view(schema, {{"property": "subject", "op": "eq", "value": "cat"}},
                            group={{"property": "subject"}})
        print(view.sql)
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("apsw", "sqlite3") and sys.modules[m]))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    sql, loaded = done.stdout.splitlines()
    assert "tag_id IN (5)" in sql and loaded == "[]"
