"""The `imagier` command's readable output and its errors, run as a real process: bad input, missing
folders, locked project files (read-only ones: test_readonly.py) and filters nested too deeply are one line `Error: ...` on
stderr and a non-zero exit, never a traceback."""

import json
import shutil
import time

import pytest

from test_cli import as_json, imagier


@pytest.fixture
def project_path(imported_template, tmp_path):
    """A project file of its own with the photographs imported (a copy of the session's)."""
    return shutil.copyfile(imported_template, tmp_path / "corpus.imagier")


@pytest.fixture
def embedded_path(embedded_template, tmp_path):
    """A project file of its own with the photographs imported and embedded."""
    return shutil.copyfile(embedded_template, tmp_path / "embedded.imagier")


def one_line_error(done, *words) -> str:
    """The error a failed command printed: one `Error: ...` line on stderr naming `words`, no traceback."""
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    for word in words:
        assert word in lines[0]
    return lines[0]


# ---- errors -----------------------------------------------------------------------------------------

def test_export_to_a_missing_folder_names_the_folder(project_path, tmp_path):
    missing = tmp_path / "no-such-folder"
    one_line_error(imagier("export", project_path, missing / "out.csv", ok=False), f"no folder {missing}")
    error = as_json("export", project_path, missing / "out.csv", ok=False)
    assert error["error"] == "FileNotFoundError" and str(missing) in error["message"]
    assert not missing.exists()


def test_a_filter_nested_thousands_deep_is_an_error_not_a_traceback(project_path):
    condition = json.dumps({"property": "name", "op": "eq", "value": "x"})
    for depth in (900, 5000):  # deep enough for the query compiler, then for the JSON parser itself
        deep = '{"not": ' * depth + condition + "}" * depth
        one_line_error(imagier("query", project_path, "--filter", deep, ok=False))


def test_bad_json_in_a_filter_is_one_line(project_path):
    one_line_error(imagier("query", project_path, "--filter", "{not json", ok=False), "--filter is not valid JSON")
    error = as_json("values", "set", project_path, "x", "1", "--filter", "[", ok=False)
    assert error["error"] == "InvalidInput" and "--filter is not valid JSON" in error["message"]


def test_a_project_another_process_keeps_locked_is_a_clear_error(project_path, monkeypatch):
    import apsw
    monkeypatch.setenv("IMAGIER_BUSY_TIMEOUT", "2")  # the command gives up after 2 s rather than 30
    holder = apsw.Connection(str(project_path))
    holder.execute("BEGIN IMMEDIATE")  # another writer that never lets go (until the command gave up)
    try:
        started = time.monotonic()
        done = imagier("property", "create", project_path, "note", "text", ok=False)
        waited = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    one_line_error(done, "busy")
    assert 2 <= waited < 20
    assert as_json("info", project_path)["properties"] == []


def test_an_unknown_property_lists_built_in_ones_and_suggests_the_closest(project_path):
    as_json("property", "create", project_path, "category", "multi-tag")
    line = one_line_error(imagier("query", project_path, "--filter",
                                  json.dumps({"property": "foldr", "op": "eq", "value": "x"}), ok=False),
                          "no property named 'foldr'", "did you mean 'folder'?", "category", "taken")
    assert "imported" in line
    error = as_json("values", "set", project_path, "catgory", "x", "--id", 1, ok=False)
    assert error["error"] == "NotFound" and error["suggestion"] == "category"


# ---- readable output ----------------------------------------------------------------------------------

def test_query_prints_its_groups_indented_with_counts(project_path):
    group = json.dumps([{"property": "taken", "by": "year"}, {"property": "format"}])
    view = as_json("query", project_path, "--filter", json.dumps({"property": "taken", "op": "is_set"}),
                   "--group", group)
    text = imagier("query", project_path, "--filter", json.dumps({"property": "taken", "op": "is_set"}),
                   "--group", group).stdout.splitlines()
    assert text[0] == f"{view['total']} images"
    assert text[1] == f"{len(view['groups'])} groups:"
    expected = []
    for year in view["groups"]:
        expected.append(f"  {year['key']}: {year['count']} images")
        expected += [f"    {sub['key']}: {sub['count']} image{'s' if sub['count'] > 1 else ''}" for sub in year["groups"]]
    assert text[2:2 + len(expected)] == expected
    assert "  2019: 3 images" in expected and "    JPEG: 3 images" in expected
    assert text[2 + len(expected):] == [f"{i['id']}\t{i['path']}" for i in view["items"]]


def test_values_get_prints_property_value_lines(project_path):
    as_json("property", "create", project_path, "category", "multi-tag")
    as_json("property", "create", project_path, "note", "text")
    as_json("values", "set", project_path, "category", '["cat", "pet"]', "--path", "chelsea.jpg")
    as_json("values", "set", project_path, "note", "sleepy", "--path", "chelsea.jpg")
    chelsea = as_json("query", project_path, "--filter",
                      json.dumps({"property": "path", "op": "contains", "value": "2020/chelsea.jpg"}))["items"][0]
    text = imagier("values", "get", project_path, "--id", chelsea["id"], "--path", "retina.jpg").stdout
    retina = [i for i in as_json("query", project_path)["items"] if i["path"].endswith("/retina.jpg")][0]
    first, second = sorted([chelsea, retina], key=lambda i: i["id"])
    blocks = {chelsea["id"]: [f"{chelsea['id']}\t{chelsea['path']}", "  category: cat, pet", "  note: sleepy"],
              retina["id"]: [f"{retina['id']}\t{retina['path']}", "  (no values)"]}
    assert text.splitlines() == blocks[first["id"]] + blocks[second["id"]]


def test_info_lists_each_vector_type_with_its_model_count_and_default(embedded_path):
    info = as_json("info", embedded_path)
    text = imagier("info", embedded_path).stdout.splitlines()
    start = text.index("  vectors:")
    lines = text[start + 1:]
    assert len(lines) == len(info["vectors"]) == 3
    for name, vector in info["vectors"].items():
        default = " (default)" if vector["default"] else ""
        assert f"    {name}: model {vector['model']}, {vector['count']} images{default}" in lines
    assert sum("(default)" in line for line in lines) == 1


def test_similar_and_suggest_print_a_header_row(embedded_path):
    similar = as_json("similar", embedded_path, "chelsea.jpg", "--top", 5)
    lines = imagier("similar", embedded_path, "chelsea.jpg", "--top", 5).stdout.splitlines()
    assert lines[0] == "score\tsimilarity\tpath"
    assert [line.split("\t")[2] for line in lines[1:]] == [s["path"] for s in similar]
    assert [float(line.split("\t")[0]) for line in lines[1:]] == [round(s["score"], 4) for s in similar]

    as_json("property", "create", embedded_path, "animal", "tag")
    as_json("values", "set", embedded_path, "animal", "cat", "--path", "2020/chelsea.jpg")
    suggested = as_json("suggest", embedded_path, "animal", "cat", "--top", 3)
    lines = imagier("suggest", embedded_path, "animal", "cat", "--top", 3).stdout.splitlines()
    assert lines[0] == "score\tsimilarity\tpath"
    assert [line.split("\t")[2] for line in lines[1:]] == [s["path"] for s in suggested]


def test_json_given_to_the_models_group_holds_for_its_subcommand():
    error = json.loads(imagier("models", "--json", "get", "nope", ok=False).stdout)
    assert error["error"] == "InvalidInput" and "'nope' is not a model that can be downloaded" in error["message"]


@pytest.mark.parametrize("value", ["soon", "-1", "nan"])
def test_a_bad_busy_timeout_is_refused_naming_the_variable(project_path, monkeypatch, value):
    monkeypatch.setenv("IMAGIER_BUSY_TIMEOUT", value)
    one_line_error(imagier("info", project_path, ok=False), "IMAGIER_BUSY_TIMEOUT must be a number of seconds")
