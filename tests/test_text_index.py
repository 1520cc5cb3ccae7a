"""Full-text search over every text property (migration 0006, store/textindex.py, the `search` op): on
real project files of imported photographs, kept in step with writes, undo and redo, reached by Python,
the CLI and HTTP, and a bad query refused by name."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import unicodedata

import httpx
import pytest

import imagier
from conftest import older_project_file
from imagier import InvalidInput, NotFound
from imagier.server.app import create_app
from imagier.store import textindex

from live import LiveServer

ELECTION = "Élection présidentielle à Besançon"
ASTRONAUTS = ("2019/astronaut.jpg", "copies/astronaut-copy.jpg")  # one content, two files


def ids_named(project, *names) -> list[int]:
    """The file ids of these photographs (by the end of their path), in id order."""
    return sorted(project.file(name)["id"] for name in names)


def search(project, query, property=None) -> list[int]:
    condition = {"op": "search", "value": query}
    if property is not None:
        condition["property"] = property
    return sorted(project.query_ids(condition))


@pytest.fixture
def captioned(imported):
    """The imported photographs with captions in French and English, and a content-scope note."""
    project = imported
    project.create_property("caption", "text")
    project.create_property("note", "text", scope="content")
    project.set_values("caption", ids_named(project, "2019/astronaut.jpg"), ELECTION)
    project.set_values("caption", ids_named(project, "2019/coffee.jpg"), "A boat on the harbour at dawn")
    project.set_values("caption", ids_named(project, "2020/chelsea.jpg"), "The cat sleeps by the boathouse")
    project.set_values("caption", ids_named(project, "2020/summer/motorcycle.jpg"),
                       "Élection municipale : la moto du maire")
    project.set_values("note", ids_named(project, "2019/astronaut.jpg"), "harbour cameraman")
    return project


def test_accents_and_case_are_folded(captioned):
    astronaut = ids_named(captioned, "2019/astronaut.jpg")
    assert search(captioned, "election besancon") == astronaut
    assert search(captioned, "ÉLECTION BESANÇON", "caption") == astronaut
    assert search(captioned, "election") == ids_named(captioned, "2019/astronaut.jpg", "2020/summer/motorcycle.jpg")


def test_phrases_prefixes_or_not(captioned):
    assert search(captioned, '"présidentielle a besancon"') == ids_named(captioned, "2019/astronaut.jpg")
    assert search(captioned, '"besancon presidentielle"') == []  # a phrase keeps its order
    assert search(captioned, "boat") == ids_named(captioned, "2019/coffee.jpg")
    assert search(captioned, "boat*") == ids_named(captioned, "2019/coffee.jpg", "2020/chelsea.jpg")
    assert search(captioned, "boat OR cat") == ids_named(captioned, "2019/coffee.jpg", "2020/chelsea.jpg")
    assert search(captioned, "election NOT besancon") == ids_named(captioned, "2020/summer/motorcycle.jpg")
    assert search(captioned, "(boat OR moto) NOT harbour") == ids_named(captioned, "2020/summer/motorcycle.jpg")
    # Punctuation inside a word separates words rather than being read as FTS5's syntax.
    assert search(captioned, "l'élection-municipale") == []
    assert search(captioned, "la moto-du maire") == ids_named(captioned, "2020/summer/motorcycle.jpg")


def test_every_text_property_and_content_scope(captioned):
    # Without a property the search looks in every text property; a content's value belongs to each of
    # its files, and the scopes combine.
    astronauts = ids_named(captioned, *ASTRONAUTS)
    assert search(captioned, "harbour") == sorted(ids_named(captioned, "2019/coffee.jpg") + astronauts)
    assert search(captioned, "harbour", "note") == astronauts
    assert search(captioned, "harbour", "caption") == ids_named(captioned, "2019/coffee.jpg")


def test_combined_with_a_date_filter_a_grouping_and_a_negation(captioned):
    view = {"and": [{"op": "search", "value": "election OR boat*"}, {"property": "taken", "op": "lt", "value": "2020"}]}
    assert sorted(captioned.query_ids(view)) == ids_named(captioned, "2019/astronaut.jpg", "2019/coffee.jpg")
    grouped = captioned.query({"op": "search", "value": "election OR boat*"},
                              group={"property": "taken", "by": "year"})
    assert grouped["total"] == 4
    assert {g["key"]: g["count"] for g in grouped["groups"]} == {"2019": 2, "2020": 2}
    everything = set(captioned.query_ids())
    assert set(captioned.query_ids({"not": {"op": "search", "value": "boat*"}})) == \
           everything - set(ids_named(captioned, "2019/coffee.jpg", "2020/chelsea.jpg"))


def test_an_edit_an_undo_and_a_redo_keep_the_index_in_step(captioned):
    astronaut = ids_named(captioned, "2019/astronaut.jpg")
    captioned.set_values("caption", astronaut, "Un voilier dans la tempête")
    assert search(captioned, "besancon") == [] and search(captioned, "tempete") == astronaut
    captioned.undo()  # the changeset is applied: the index triggers fire on it
    assert search(captioned, "besancon") == astronaut and search(captioned, "tempete") == []
    captioned.redo()
    assert search(captioned, "besancon") == [] and search(captioned, "tempete") == astronaut
    captioned.remove_values("caption", astronaut)
    assert search(captioned, "tempete") == []
    captioned.undo()
    assert search(captioned, "tempete") == astronaut


def test_a_new_value_undone_leaves_the_results_and_comes_back_with_redo(captioned):
    retina = ids_named(captioned, "retina.jpg")
    captioned.set_values("caption", retina, "Rétine humaine")
    assert search(captioned, "retine") == retina
    captioned.undo()
    assert search(captioned, "retine") == []
    captioned.redo()
    assert search(captioned, "retine") == retina


def test_a_renamed_and_a_deleted_property(captioned):
    astronaut = ids_named(captioned, "2019/astronaut.jpg")
    captioned.rename_property("caption", "légende")
    assert search(captioned, "besancon", "légende") == astronaut
    with pytest.raises(NotFound, match="no property named 'caption'"):
        search(captioned, "besancon", "caption")
    captioned.delete_property("légende")
    assert search(captioned, "besancon") == [] and search(captioned, "harbour") == ids_named(captioned, *ASTRONAUTS)
    # Nothing of the deleted values is left in the index, even where no property asks for them.
    assert captioned.db.reader.execute("SELECT count(*) FROM text_index WHERE text_index MATCH 'besancon'"
                                       ).fetchone()[0] == 0
    captioned.undo()  # the property and its values come back, and so do their words
    assert search(captioned, "besancon", "légende") == astronaut
    with captioned.db.write() as conn:  # the index agrees with itself
        conn.execute("INSERT INTO text_index(text_index) VALUES ('integrity-check')")


def test_only_text_properties_are_indexed(captioned):
    captioned.create_property("site", "url")
    captioned.create_property("photographed", "date")
    captioned.set_values("site", ids_named(captioned, "retina.jpg"), "https://example.org/harbour")
    captioned.set_values("photographed", ids_named(captioned, "retina.jpg"), "2019-05-03")
    assert search(captioned, "example OR 2019") == []
    captioned.delete_property("site")
    assert search(captioned, "harbour") == ids_named(captioned, "2019/coffee.jpg", *ASTRONAUTS)


@pytest.mark.parametrize("query, reason", [
    ('boat "harbour', "a quote is not closed"),
    ('"', "a quote is not closed"),
    ("(boat OR cat", "a parenthesis is not closed"),
    ("boat)", "unexpected ')'"),
    ("NOT boat", "'NOT' where a word was expected"),
    ("boat OR", "it ends where a word was expected"),
    ("-- ;", "has no letter or digit"),
    ("  ", "needs words to look for"),
])
def test_a_bad_query_is_refused_by_name(captioned, query, reason):
    before = captioned.data_version()
    with pytest.raises(InvalidInput, match=re.escape(reason)) as refused:
        search(captioned, query)
    assert query.strip() == "" or repr(query) in refused.value.message
    assert captioned.data_version() == before


def test_search_applies_to_text_properties_only(captioned):
    captioned.create_property("rating", "number")
    with pytest.raises(InvalidInput, match="rating is a number property"):
        search(captioned, "boat", "rating")
    with pytest.raises(InvalidInput, match="name is a built-in text property"):
        search(captioned, "boat", "name")
    with pytest.raises(InvalidInput, match="text search needs words"):
        captioned.query_ids({"op": "search", "value": 3})


def test_the_index_is_filled_when_an_older_project_is_migrated(tmp_path):
    path = tmp_path / "old.imagier"
    conn = older_project_file(path, 5)  # the schema before the text index
    conn.execute("INSERT INTO folders(id, path, name) VALUES (1, '/data', 'data')")
    for id in (1, 2):
        conn.execute("INSERT INTO contents(id, hash, format, width, height, size) VALUES (?, ?, 'JPEG', 1, 1, 1)",
                     (id, f"h{id}"))
        conn.execute("INSERT INTO files(id, path, folder_id, name, content_id, modified, mtime_ns, imported) "
                     "VALUES (?, ?, 1, ?, ?, '2020-01-01', 0, '2020-01-01')", (id, f"/data/{id}.jpg", f"{id}.jpg", id))
    conn.execute("INSERT INTO properties(id, name, type, scope) VALUES (1, 'caption', 'text', 'file'), "
                 "(2, 'when', 'date', 'file')")
    conn.execute("INSERT INTO property_values VALUES (1, 1, ?), (1, 2, 'Un bateau'), (2, 1, '2019-05-03')",
                 (ELECTION,))
    conn.close()
    with imagier.open(path) as project:
        assert search(project, "election besancon") == [1]
        assert search(project, "bateau OR 2019") == [2]
        assert textindex.size(project.db.reader) > 0


def test_the_cli_and_http_reach_the_search(captioned, tmp_path):
    captioned.close()
    path = captioned.path
    astronaut_filter = json.dumps({"op": "search", "value": "election besancon"})
    done = subprocess.run([sys.executable, "-m", "imagier.cli", "query", str(path), "--filter", astronaut_filter,
                           "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert [item["path"].endswith("2019/astronaut.jpg") for item in json.loads(done.stdout)["items"]] == [True]
    bad = subprocess.run([sys.executable, "-m", "imagier.cli", "query", str(path), "--filter",
                          json.dumps({"op": "search", "value": 'boat "harbour'})], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode != 0 and "a quote is not closed" in bad.stderr and "Traceback" not in bad.stderr
    with imagier.open(path) as project, LiveServer(create_app(project)) as server:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            found = client.post("/api/query", json={"filter": {"op": "search", "value": "boat*"}})
            assert found.status_code == 200
            assert sorted(found.json()["ids"]) == ids_named(project, "2019/coffee.jpg", "2020/chelsea.jpg")
            refused = client.post("/api/query", json={"filter": {"op": "search", "value": 'boat "harbour'}})
            assert refused.status_code == 400 and "a quote is not closed" in refused.json()["message"]


def test_a_deeply_nested_query_is_refused_not_a_crash(captioned):
    with pytest.raises(InvalidInput, match="levels of parentheses"):
        search(captioned, "(" * 5000 + "boat" + ")" * 5000)


@pytest.mark.browser
def test_the_top_bar_finds_the_images_whose_text_contains_the_words(captioned, chromium):
    from live import served_page
    with served_page(chromium, captioned) as (page, server):
        page.wait_for_selector(f"[data-testid=view-count]:text-is('{captioned.file_count()} images')")
        page.get_by_test_id("search-input").fill("election besancon")
        page.get_by_test_id("search-text-run").click()
        page.wait_for_selector("[data-testid=view-count]:text-is('1 image')")
        page.wait_for_selector("[data-testid=tile]")
        shown = page.eval_on_selector_all("[data-testid=tile]", "els => els.map(e => Number(e.dataset.id))")
        assert shown == ids_named(captioned, "2019/astronaut.jpg")
        # The words are a condition of the view's filter, on any text, which the filter editor shows.
        condition = page.get_by_test_id("filter-condition")
        assert condition.get_by_test_id("filter-property").input_value() == ""
        assert condition.get_by_test_id("filter-op").input_value() == "search"
        assert condition.get_by_test_id("filter-value").input_value() == "election besancon"
        # Other words replace the box's condition rather than adding to it.
        page.get_by_test_id("search-input").fill("boat* OR harbour")
        page.get_by_test_id("search-text-run").click()
        expected = search(captioned, "boat* OR harbour")
        page.wait_for_selector(f"[data-testid=view-count]:text-is('{len(expected)} images')")
        shown = page.eval_on_selector_all("[data-testid=tile]", "els => els.map(e => Number(e.dataset.id))")
        assert sorted(shown) == expected
        assert page.get_by_test_id("filter-condition").count() == 1


def folded_words(text: str) -> set[str]:
    """The words of a text as the index's tokenizer reads them: accents and case folded, split at
    anything but letters and digits."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return set(re.findall(r"\w+", plain.casefold()))


def index_rows(project, word) -> set[tuple[int, int]]:
    """(property id, target) of the index's rows holding the word."""
    rows = project.db.reader.execute("SELECT rowid FROM text_index WHERE text_index MATCH ?", (f'"{word}"',))
    return {(rowid >> textindex.TARGET_BITS, rowid & textindex.TARGET_MASK) for (rowid,) in rows}


def test_the_index_holds_exactly_the_words_of_the_values_after_edits_undos_and_redos(captioned):
    # A contentless index forgets a value only when told the words it was indexed with: a wrong or
    # missing removal would leave words that no value holds, which this compares word by word.
    import random
    rng = random.Random(7)
    words = ["harbour", "boat", "election", "besancon", "moto", "cat", "tempete", "port"]
    ids = sorted(captioned.query_ids())
    captioned.create_property("rating", "number")
    for step in range(40):
        action = rng.choice(["set", "set", "remove", "undo", "undo", "redo", "number"])
        chosen = rng.sample(ids, rng.randint(1, 5))
        property = rng.choice(["caption", "note"])
        try:
            if action == "set":
                captioned.set_values(property, chosen, " ".join(rng.sample(words, 3)))
            elif action == "remove":
                captioned.remove_values(property, chosen)
            elif action == "number":
                captioned.set_values("rating", chosen, step)
            else:
                getattr(captioned, action)()
        except imagier.errors.Conflict:
            pass  # nothing to undo or redo
    properties = {p["name"]: p for p in captioned.properties()}
    for word in words:
        expected = set()
        for name in ("caption", "note"):
            prop = properties[name]
            for target, value in captioned.db.reader.execute(
                    "SELECT target_id, value FROM property_values WHERE property_id = ?", (prop["id"],)):
                if word in folded_words(value):
                    expected.add((prop["id"], target))
        assert index_rows(captioned, word) == expected, word


def test_values_written_before_their_property_are_indexed_when_it_comes(captioned):
    # A changeset's rows may come in any order of tables, foreign keys deferred (apsw applies it so): the
    # property's own triggers index its values when it arrives and remove them before it goes.
    retina = captioned.file("retina.jpg")["id"]
    with captioned.db.write() as conn:
        conn.execute("PRAGMA defer_foreign_keys = ON")
        conn.execute("INSERT INTO property_values(property_id, target_id, value) VALUES (999, ?, 'Un phare breton')",
                     (retina,))
        conn.execute("INSERT INTO properties(id, name, type, scope) VALUES (999, 'late', 'text', 'file')")
    assert search(captioned, "phare") == [retina] == search(captioned, "breton", "late")
    captioned.delete_property("late")
    assert search(captioned, "phare") == [] and index_rows(captioned, "phare") == set()
    captioned.undo()
    assert search(captioned, "phare", "late") == [retina]
