"""The `imagier` command, run as a real process: the JSON contract scripts depend on, and clean errors."""

import csv
import json
import subprocess
import sys

import pytest


def imagier(*args, ok=True):
    done = subprocess.run([sys.executable, "-m", "imagier.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=120)
    if ok:
        assert done.returncode == 0, done.stderr
    return done


def as_json(*args, ok=True):
    done = imagier(*args, "--json", ok=ok)
    return json.loads(done.stdout)


@pytest.fixture
def project_path(tmp_path, photo_dir):
    path = tmp_path / "corpus.imagier"
    report = as_json("import", path, photo_dir, "--no-embed")
    assert report["added"] == 15 and report["failed"] == [] and report["total"] == 15
    return path


def test_import_creates_the_project_and_reports_the_contract(project_path, photo_dir, broken_dir):
    again = as_json("import", project_path, photo_dir)
    assert (again["added"], again["skipped"], again["total"]) == (0, 15, 15)
    broken = as_json("import", project_path, broken_dir)
    assert broken["added"] == 2 and broken["total"] == 17
    assert {f["path"].rsplit("/", 1)[-1] for f in broken["failed"]} == {
        "empty.jpg", "truncated.jpg", "truncated.png", "text.png", "garbled.jpg"}
    assert all(f["error"] for f in broken["failed"])


def test_info_lists_counts_and_properties(project_path):
    as_json("property", "create", project_path, "category", "multi-tag")
    info = as_json("info", project_path)
    assert (info["files"], info["contents"]) == (15, 14)
    assert info["properties"] == [{"name": "category", "type": "multi-tag", "scope": "file"}]
    assert info["vectors"] == {}


def test_query_filters_sorts_groups_and_limits(project_path):
    result = as_json("query", project_path, "--filter", json.dumps({"property": "taken", "op": "is_set"}),
                     "--sort", json.dumps([{"property": "taken"}]),
                     "--group", json.dumps([{"property": "taken", "by": "year"}]), "--limit", 3)
    assert result["total"] == 8
    names = [item["path"].rsplit("/", 1)[-1] for item in result["items"]]
    assert sorted(names[:2]) == ["astronaut-copy.jpg", "astronaut.jpg"] and names[2] == "coffee.jpg"
    assert [(g["key"], g["count"]) for g in result["groups"]] == [("2019", 3), ("2020", 3), ("2021", 2)]
    plain = as_json("query", project_path)
    assert plain["total"] == 15 and "groups" not in plain
    assert set(plain["items"][0]) == {"id", "path"}


def test_annotation_commands_and_undo_redo(project_path):
    as_json("property", "create", project_path, "category", "multi-tag")
    as_json("tag", "create", project_path, "category", "politician", "--colour", "#112233")
    as_json("tag", "create", project_path, "category", "le pen", "--parent", "politician")
    filter_2019 = json.dumps({"property": "taken", "op": "eq", "value": "2019"})
    assert as_json("values", "add", project_path, "category", "le pen", "--filter", filter_2019)["images"] == 3
    tagged = as_json("query", project_path, "--filter",
                     json.dumps({"property": "category", "op": "has_any", "value": ["politician"]}))
    assert tagged["total"] == 3
    one = tagged["items"][0]["id"]
    as_json("values", "set", project_path, "category", '["tv"]', "--id", one)
    assert as_json("values", "get", project_path, "--id", one)[str(one)] == {"category": ["tv"]}
    as_json("undo", project_path)
    assert as_json("values", "get", project_path, "--id", one)[str(one)] == {"category": ["le pen"]}
    as_json("redo", project_path)
    assert as_json("values", "get", project_path, "--id", one)[str(one)] == {"category": ["tv"]}
    as_json("values", "remove", project_path, "category", "--id", one)
    assert as_json("values", "get", project_path, "--id", one)[str(one)] == {}
    as_json("tag", "update", project_path, "category", "le pen", "--rename", "marion", "--no-parents")
    as_json("tag", "merge", project_path, "category", "tv", "--into", "marion")
    assert [t["name"] for t in as_json("tag", "list", project_path, "category")] == ["marion", "politician"]
    as_json("tag", "delete", project_path, "category", "politician")
    as_json("property", "rename", project_path, "category", "subject")
    as_json("property", "delete", project_path, "subject")
    assert as_json("info", project_path)["properties"] == []
    kinds = [op["kind"] for op in as_json("history", project_path, "--limit", 3)]
    assert kinds == ["delete_property", "rename_property", "delete_tag"]


def test_export_and_import_csv(project_path, tmp_path):
    as_json("property", "create", project_path, "note", "text")
    as_json("values", "set", project_path, "note", "hello", "--path", "retina.jpg")
    out = tmp_path / "out.csv"
    assert as_json("export", project_path, out)["rows"] == 15
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["path", "note[text]"]
    assert [r[1] for r in rows[1:] if r[0].endswith("/retina.jpg")] == ["hello"]

    incoming = tmp_path / "in.csv"
    incoming.write_text("path;mood[tag];note[text]\nretina.jpg;calm;changed\nghost.jpg;sad;x\n")
    dry = as_json("import-csv", project_path, incoming, "--dry-run")
    assert (dry["rows"], dry["matched"], dry["unmatched"], dry["created_properties"]) == (2, 1, 1, ["mood"])
    refused = as_json("import-csv", project_path, incoming, ok=False)
    assert refused["error"] == "InvalidInput" and "match no image" in refused["message"]
    done = as_json("import-csv", project_path, incoming, "--skip-unmatched")
    assert done["matched"] == 1
    assert as_json("info", project_path)["properties"][-1] == {"name": "mood", "type": "tag", "scope": "file"}


@pytest.mark.parametrize("args, words", [
    (["query", "{p}", "--filter", '{"property": "colr", "op": "eq", "value": 1}'], "no property named 'colr'"),
    (["query", "{p}", "--filter", "{not json"], "not valid JSON"),
    (["property", "create", "{p}", "x", "integer"], "unknown property type"),
    (["values", "set", "{p}", "ghost", "1", "--id", "1"], "no property named 'ghost'"),
    (["import-csv", "{p}", "{p}.missing.csv"], "no CSV file"),
])
def test_bad_input_is_a_clear_message_and_a_nonzero_exit(project_path, args, words):
    done = imagier(*[a.replace("{p}", str(project_path)) for a in args], ok=False)
    assert done.returncode != 0
    assert words in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def test_a_tag_cycle_is_refused_with_json_error(project_path):
    as_json("property", "create", project_path, "k", "multi-tag")
    as_json("tag", "create", project_path, "k", "a")
    as_json("tag", "create", project_path, "k", "b", "--parent", "a")
    error = as_json("tag", "update", project_path, "k", "a", "--parent", "b", ok=False)
    assert error["error"] == "Conflict" and "cycle" in error["message"]


def test_opening_something_that_is_not_a_project_fails_cleanly(tmp_path):
    not_project = tmp_path / "notes.txt"
    not_project.write_text("hello")
    done = imagier("info", not_project, ok=False)
    assert done.returncode == 1 and "not an imagier project" in done.stderr
    assert not_project.read_text() == "hello"


def test_demo_builds_a_project_of_real_photographs(tmp_path):
    report = as_json("demo", "--dir", tmp_path / "demo", "--no-serve")
    assert report["files"] >= 60 and report["failed"] == []
    info = as_json("info", report["project"])
    assert {p["name"] for p in info["properties"]} == {"subject", "note", "ImageNet guess"}
    assert info["vectors"]["efficientnet-lite0"]["count"] == info["contents"]
