"""CSV export and import, including Panoptic's format, dry runs and refused files."""

import csv
import io

import pytest

from imagier.errors import InvalidInput, NotFound


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


@pytest.fixture
def annotated(imported):
    ids = sorted(f["id"] for f in imported.files(range(1, 100)))
    imported.create_property("category", "multi-tag")
    imported.create_property("note", "text")
    imported.create_property("score", "number")
    imported.create_property("checked", "checkbox")
    imported.add_values("category", ids[:2], ["cups", "street"])
    imported.set_values("note", ids[:1], 'a "quoted", comma; text')
    imported.set_values("score", ids[1:3], 2.5)
    imported.set_values("checked", ids[:1], True)
    return imported, ids


def test_export_writes_one_row_per_file_with_typed_headers(annotated, tmp_path):
    project, ids = annotated
    report = project.export_csv(tmp_path / "out.csv")
    rows = read_rows(tmp_path / "out.csv")
    assert rows[0] == ["path", "category[multi-tag]", "note[text]", "score[number]", "checked[checkbox]"]
    assert report["rows"] == len(rows) - 1 == project.file_count()
    first = next(r for r in rows if r[0] == project.files([ids[0]])[0]["path"])
    assert first[1:] == ["cups,street", 'a "quoted", comma; text', "", "true"]


def test_export_of_a_view_keeps_its_filter_and_order_and_can_key_by_id(annotated, tmp_path):
    project, ids = annotated
    project.export_csv(tmp_path / "v.csv", {"property": "score", "op": "is_set"},
                       [{"property": "path", "desc": True}], key="id", separator=";")
    rows = read_rows(tmp_path / "v.csv")
    rows = [r[0].split(";") for r in rows] if ";" in rows[0][0] else rows
    assert rows[0][0] == "id"
    exported = [int(r[0]) for r in rows[1:]]
    expected = sorted(ids[1:3], key=lambda i: project.files([i])[0]["path"], reverse=True)
    assert exported == expected


def test_round_trip_into_a_fresh_project_restores_every_value(annotated, tmp_path, photo_dir):
    project, ids = annotated
    project.export_csv(tmp_path / "out.csv")
    import imagier
    with imagier.open(tmp_path / "fresh.imagier") as fresh:
        fresh.import_folders([photo_dir])
        report = fresh.import_csv(tmp_path / "out.csv")
        assert report["unmatched"] == 0 and report["invalid"] == []
        assert report["created_properties"] == ["category", "note", "score", "checked"]
        by_path = {f["path"]: f["id"] for f in fresh.files(range(1, 100))}
        original = project.values(ids)
        for file_id in ids:
            path = project.files([file_id])[0]["path"]
            assert fresh.values([by_path[path]])[by_path[path]] == original[file_id]


def test_panoptic_export_with_semicolons_and_relative_paths(imported, state_of):
    text = ("path;theme[multi_tags];legend[string];year[number];sha1[sha1]\n"
            "2019/astronaut.jpg;space, people;first one;2019;abc\n"
            "summer/hubble.jpg;space;;2020;def\n")
    dry = imported.import_csv(io.StringIO(text), dry_run=True)
    assert (dry["rows"], dry["matched"], dry["unmatched"], dry["separator"]) == (2, 2, 0, ";")
    assert dry["created_properties"] == ["theme", "legend", "year"]
    assert dry["skipped_columns"][0]["column"] == "sha1[sha1]"
    assert [p["name"] for p in imported.properties() if not p["builtin"]] == []  # a dry run writes nothing

    imported.import_csv(io.StringIO(text))
    astronaut = imported.file("2019/astronaut.jpg")["id"]
    hubble = imported.file("summer/hubble.jpg")["id"]
    assert imported.values([astronaut])[astronaut] == {"theme": ["people", "space"], "legend": "first one",
                                                        "year": 2019}
    assert imported.values([hubble])[hubble] == {"theme": ["space"], "year": 2020}
    assert imported.property("theme")["type"] == "multi-tag"


def test_a_csv_import_is_one_undoable_operation(imported):
    imported.import_csv(io.StringIO("path,mood[tag]\nretina.jpg,calm\n"))
    assert imported.history()[0]["kind"] == "import_csv"
    imported.undo()
    assert [p["name"] for p in imported.properties() if not p["builtin"]] == []


def test_unknown_paths_are_reported_and_stop_the_import(imported, state_of):
    text = "path,note[text]\nretina.jpg,ok\nnowhere/ghost.jpg,lost\n"
    before = state_of(imported)
    dry = imported.import_csv(io.StringIO(text), dry_run=True)
    assert dry["unmatched"] == 1 and dry["unmatched_rows"][0]["key"] == "nowhere/ghost.jpg"
    with pytest.raises(InvalidInput, match=r"1 row\(s\) .* match no image: row 3 \('nowhere/ghost.jpg'"):
        imported.import_csv(io.StringIO(text))
    assert state_of(imported) == before
    report = imported.import_csv(io.StringIO(text), skip_unmatched=True)
    assert report["matched"] == 1
    retina = imported.file("retina.jpg")["id"]
    assert imported.values([retina])[retina] == {"note": "ok"}


def test_an_ambiguous_relative_path_matches_nothing(project, photo_copy):
    (photo_copy / "elsewhere").mkdir()
    (photo_copy / "elsewhere" / "coffee.jpg").write_bytes((photo_copy / "2019" / "coffee.jpg").read_bytes())
    project.import_folders([photo_copy])
    dry = project.import_csv(io.StringIO("path,note[text]\ncoffee.jpg,x\n2019/coffee.jpg,y\n"), dry_run=True)
    assert dry["matched"] == 1
    assert dry["unmatched_rows"] == [{"row": 2, "key": "coffee.jpg",
                                      "reason": "matches 2 images; give more of the path"}]


def test_cells_of_the_wrong_type_are_listed_and_stop_the_import(imported, state_of):
    imported.create_property("score", "number")
    text = "path,score[number],when[date]\nretina.jpg,high,2019-02-30\n2019/coffee.jpg,3,2019-02-03\n"
    before = state_of(imported)
    dry = imported.import_csv(io.StringIO(text), dry_run=True)
    assert [(c["row"], c["column"]) for c in dry["invalid"]] == [(2, "score[number]"), (2, "when[date]")]
    assert "not a number" in dry["invalid"][0]["error"]
    with pytest.raises(InvalidInput, match="2 cell\\(s\\) .* invalid: row 2 column 'score\\[number\\]'"):
        imported.import_csv(io.StringIO(text))
    assert state_of(imported) == before


def test_a_column_whose_type_contradicts_the_property_is_refused(imported, state_of):
    imported.create_property("score", "number")
    before = state_of(imported)
    with pytest.raises(InvalidInput, match="says text, but the project's property 'score' is of type number"):
        imported.import_csv(io.StringIO("path,score[text]\nretina.jpg,3\n"))
    assert state_of(imported) == before


@pytest.mark.parametrize("text", ["path|note[text]\nretina.jpg|x\n", "file,note[text]\nretina.jpg,x\n", ""])
def test_a_bad_separator_or_header_is_a_clear_error(imported, state_of, text):
    before = state_of(imported)
    with pytest.raises(InvalidInput, match="first column must be 'path' or 'id'"):
        imported.import_csv(io.StringIO(text))
    assert state_of(imported) == before


def test_a_missing_csv_file_is_not_found(imported, tmp_path):
    with pytest.raises(NotFound, match="no CSV file"):
        imported.import_csv(tmp_path / "absent.csv")


def test_import_by_id_and_from_a_file_object(imported):
    retina = imported.file("retina.jpg")["id"]
    report = imported.import_csv(io.StringIO(f"id,flag[checkbox]\n{retina},yes\n99999,no\n"), skip_unmatched=True)
    assert (report["matched"], report["unmatched"]) == (1, 1)
    assert imported.values([retina])[retina] == {"flag": True}
