"""The ImageNet guesses of EfficientNet-Lite0 (real weights, real photographs): named and marked as guesses,
only above the calibrated threshold, their probabilities computed from the stored vectors, deleted for good
and turned on again through the Python API, the CLI and the HTTP API, and older projects' `labels` migrated."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

import imagier
from conftest import older_project_file
from imagier.cli import main
from imagier.errors import Conflict
from imagier.server.app import create_app
from imagier.vectors import efficientnet
from imagier.vectors.embed import GUESS_PROPERTY, THRESHOLD_SETTING


pytestmark = pytest.mark.usefixtures("model_cache")


def stored(project) -> dict[str, list[str]]:
    """The `ImageNet guess` values by file path."""
    ids = project.query_ids()
    values = project.values(ids)
    return {f["path"]: values[f["id"]].get(GUESS_PROPERTY, []) for f in project.files(ids)}


def file_named(project, name: str) -> int:
    return next(f["id"] for f in project.files(project.query_ids()) if f["path"].endswith(name))


def test_guesses_carry_the_probabilities_they_were_written_with(embedded):
    ids = embedded.query_ids()
    found = embedded.guesses(ids)
    values = embedded.values(ids)
    for file_id in ids:
        assert [g["label"] for g in found[file_id]] == values[file_id].get(GUESS_PROPERTY, [])
        assert all(g["probability"] >= efficientnet.GUESS_MIN_PROBABILITY for g in found[file_id])
    camera = file_named(embedded, "2021/camera.jpg")
    content = embedded.files([camera])[0]["content_id"]
    exact = efficientnet.stored_scores(embedded.vectors_of("efficientnet-lite0", [content]))[0]
    assert found[camera] == [{"label": "tripod",
                              "probability": round(float(exact[efficientnet.CLASS_NAMES.index("tripod")]), 4)}]
    assert found[file_named(embedded, "retina.jpg")] == []
    prop = next(p for p in embedded.properties() if p["name"] == GUESS_PROPERTY)
    assert prop["machine"] and not any(p["machine"] for p in embedded.properties() if p["name"] != GUESS_PROPERTY)


def test_deleted_for_good_until_turned_on_again(embedded, photo_dir):
    before = stored(embedded)
    assert any(before.values())
    assert embedded.delete_machine_labels() == {"enabled": False, "deleted": True}
    assert GUESS_PROPERTY not in {p["name"] for p in embedded.properties()}
    assert not embedded.machine_labels_enabled()
    assert all(v == [] for v in embedded.guesses(embedded.query_ids()).values())
    # a later embedding (of new images, and of a new type) writes no guesses
    embedded.delete_vector_type("efficientnet-lite0")
    assert embedded.embed()["embedded"] == embedded.content_count()
    assert GUESS_PROPERTY not in {p["name"] for p in embedded.properties()}
    assert embedded.delete_machine_labels()["deleted"] is False  # nothing left to delete: no error
    assert embedded.enable_machine_labels() == {"enabled": True, "images": embedded.content_count()}
    assert stored(embedded) == before
    assert [o["kind"] for o in embedded.history()][:4] == ["labels_on", "labels_off", "embed", "labels_off"]


def test_a_users_property_of_that_name_is_never_deleted(embedded, state_of):
    embedded.delete_machine_labels()
    embedded.create_property(GUESS_PROPERTY, "text")
    before = state_of(embedded)
    with pytest.raises(Conflict, match="of the user's"):
        embedded.delete_machine_labels()
    with pytest.raises(Conflict, match="rename that property"):
        embedded.enable_machine_labels()
    assert state_of(embedded) == before and not embedded.machine_labels_enabled()


def test_guesses_written_under_another_threshold_are_made_again(embedded):
    retina = embedded.files([file_named(embedded, "retina.jpg")])[0]
    # as an older imagier wrote them, at 0.1: "tick" and "jellyfish" on a retina
    embedded.vector_store.write_machine_tags(GUESS_PROPERTY, {retina["content_id"]: ["tick", "jellyfish"]})
    embedded.settings.set_setting(THRESHOLD_SETTING, 0.1)
    assert sorted(stored(embedded)[retina["path"]]) == ["jellyfish", "tick"]
    embedded.embed()  # nothing new to embed, but the guesses are computed again
    assert all(v == [g["label"] for g in embedded.guesses([i])[i]]
               for i, v in zip(embedded.query_ids(), stored(embedded).values()))
    assert {t["name"] for t in embedded.tags(GUESS_PROPERTY)} == {"tripod"}


def test_cli_and_http(embedded):
    path = str(embedded.path)
    runner = CliRunner()
    done = runner.invoke(main, ["labels", "off", path, "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output) == {"enabled": False, "deleted": True}
    done = runner.invoke(main, ["labels", "status", path])
    assert done.exit_code == 0 and "off" in done.output
    done = runner.invoke(main, ["labels", "on", path])
    assert done.exit_code == 0 and f"computed for {embedded.content_count()} images" in done.output
    camera = file_named(embedded, "2021/camera.jpg")
    with TestClient(create_app(embedded), base_url="http://127.0.0.1") as client:
        assert client.get("/api/labels").json() == {"enabled": True}
        answer = client.post("/api/guesses", json={"ids": [camera]}).json()
        assert [g["label"] for g in answer[str(camera)]] == ["tripod"]
        listing = client.get("/api/properties").json()
        assert next(p for p in listing if p["name"] == GUESS_PROPERTY)["machine"] is True
        assert client.put("/api/labels", json={"enabled": False}).json() == {"enabled": False, "deleted": True}
        assert client.post("/api/guesses", json={"ids": [camera]}).json() == {str(camera): []}
        refused = client.put("/api/labels", json={"enabled": "maybe"})
        assert refused.status_code == 422
        assert client.get("/api/labels").json() == {"enabled": False}


def schema_3_project(path, *, embedded: bool, labels_type: str = "multi-tag") -> None:
    """A project file as imagier wrote it before migration 0004: a `labels` property and a view of it."""
    conn = older_project_file(path, 3)
    with conn:
        if embedded:
            conn.execute("INSERT INTO vector_types(name, model, dim, dtype, metric, is_default, created) "
                         "VALUES ('efficientnet-lite0', 'efficientnet-lite0', 1280, 'float16', 'cosine', 1, '2026')")
        conn.execute("INSERT INTO properties(name, type, scope, position) VALUES ('labels', ?, 'content', 1)",
                     (labels_type,))
        conn.execute("INSERT INTO views(name, state) VALUES ('cats', ?)", (json.dumps(
            {"filter": {"property": "labels", "op": "has_any", "value": ["tabby"]}, "sort": [],
             "group": [{"property": "labels"}], "display": {"shown": ["labels"]}}),))
    conn.close()


def test_migration_renames_the_models_labels(tmp_path):
    schema_3_project(tmp_path / "old.imagier", embedded=True)
    with imagier.open(tmp_path / "old.imagier") as project:
        prop = project.property(GUESS_PROPERTY)
        assert prop["machine"] and prop["type"] == "multi-tag"
        state = project.views()[0]["state"]
        assert state["filter"]["property"] == state["group"][0]["property"] == GUESS_PROPERTY
        assert state["display"]["shown"] == [GUESS_PROPERTY]


@pytest.mark.parametrize("embedded, labels_type", [(False, "multi-tag"), (True, "text")])
def test_migration_leaves_a_users_labels_alone(tmp_path, embedded, labels_type):
    schema_3_project(tmp_path / "old.imagier", embedded=embedded, labels_type=labels_type)
    with imagier.open(tmp_path / "old.imagier") as project:
        assert project.property("labels")["machine"] is False
        assert project.views()[0]["state"]["filter"]["property"] == "labels"
