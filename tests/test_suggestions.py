"""Suggestions for a group: ranked images outside it, accepting (undoable) and rejecting (remembered)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from imagier.analysis.suggestions import NEAREST
from imagier.cli import main
from imagier.errors import InvalidInput, NotFound
from imagier.server.app import create_app

from conftest import HIST
from test_similarity import fid, names


@pytest.fixture
def cats(embedded):
    """A tag "cats" of the property "category" on one cat photo and two others."""
    embedded.create_property("category", "multi-tag")
    members = [fid(embedded, "2020/chelsea.jpg"), fid(embedded, "2019/coffee.jpg"), fid(embedded, "retina.jpg")]
    embedded.set_values("category", members, ["cats"])
    return embedded, members


def test_the_group_s_other_pictures_come_first(cats):
    project, members = cats
    results = project.suggestions("category", "cats", top_k=3)
    assert set(names(results)[:2]) == {"formats/chelsea.gif", "formats/coffee.webp"}
    assert not set(members) & {r["id"] for r in results}
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    assert set(results[0]) == {"id", "path", "score", "similarity", "rank"}


def test_the_score_is_the_mean_similarity_to_the_nearest_members(cats):
    project, members = cats
    results = project.suggestions("category", "cats", top_k=20, vector_type=HIST)
    assert len(results) == 15 - 3
    for r in results:
        sims = sorted((s["similarity"] for s in project.similar(r["id"], top_k=20, vector_type=HIST)
                       if s["id"] in members), reverse=True)
        assert r["similarity"] == pytest.approx(np.mean(sims[:NEAREST]), abs=1e-5)


def test_a_filter_restricts_the_suggestions(cats):
    project, _ = cats
    pngs = {"property": "format", "op": "eq", "value": "PNG"}
    assert names(project.suggestions("category", "cats", filter=pngs)) == ["formats/camera.png"]


def test_accepting_applies_the_value_in_one_undoable_operation(cats):
    project, members = cats
    project.set_values("category", [fid(project, "formats/chelsea.gif")], ["animals"])
    best = project.suggestions("category", "cats", top_k=2)
    ids = [r["id"] for r in best]
    assert project.accept_suggestions("category", "cats", ids) == 2
    assert project.values([fid(project, "formats/chelsea.gif")], ["category"])[fid(project, "formats/chelsea.gif")] == \
        {"category": ["animals", "cats"]}  # a multi-tag property keeps the image's other tags
    assert not set(ids) & {r["id"] for r in project.suggestions("category", "cats", top_k=20)}
    assert project.history(1)[0]["kind"] == "accept_suggestions"
    project.undo()
    assert sorted(project.query_ids({"property": "category", "op": "eq", "value": "cats"})) == sorted(members)


def test_rejected_images_are_never_proposed_again_for_that_group(cats, state_of):
    project, _ = cats
    first = project.suggestions("category", "cats", top_k=1)[0]
    assert project.reject_suggestions("category", "cats", [first["id"]]) == 1
    assert project.reject_suggestions("category", "cats", [first["id"]]) == 0  # already remembered
    again = project.suggestions("category", "cats", top_k=20)
    assert first["id"] not in {r["id"] for r in again} and len(again) == 15 - 3 - 1
    project.set_values("category", [fid(project, "2021/camera.jpg")], ["machines"])
    assert first["id"] in {r["id"] for r in project.suggestions("category", "machines", top_k=20)}


def test_a_rejection_can_be_undone(cats):
    project, _ = cats
    first = project.suggestions("category", "cats", top_k=1)[0]
    project.reject_suggestions("category", "cats", [first["id"]])
    assert project.history()[0]["kind"] == "reject_suggestions"
    project.undo()
    assert project.suggestions("category", "cats", top_k=1)[0]["id"] == first["id"]


def test_rejecting_a_file_rejects_its_copies(cats):
    project, _ = cats
    project.reject_suggestions("category", "cats", [fid(project, "2019/astronaut.jpg")])
    left = names(project.suggestions("category", "cats", top_k=20))
    assert "2019/astronaut.jpg" not in left and "copies/astronaut-copy.jpg" not in left


def test_suggestions_for_a_text_value(embedded):
    embedded.create_property("place", "text")
    embedded.set_values("place", [fid(embedded, "summer/hubble.jpg")], "sky")
    assert names(embedded.suggestions("place", "sky", top_k=1)) == ["formats/hubble.heic"]
    embedded.accept_suggestions("place", "sky", [fid(embedded, "formats/hubble.heic")])
    assert embedded.values([fid(embedded, "formats/hubble.heic")], ["place"])[fid(embedded, "formats/hubble.heic")] == \
        {"place": "sky"}


def test_bad_requests_are_refused_and_change_nothing(cats, state_of):
    project, _ = cats
    before = state_of(project)
    with pytest.raises(NotFound, match="no property named 'colour'"):
        project.suggestions("colour", "red")
    with pytest.raises(NotFound, match="category has no tag 'dogs'"):
        project.suggestions("category", "dogs")
    project.create_tag("category", "empty")
    before = state_of(project)
    with pytest.raises(InvalidInput, match="no image has category = 'empty'"):
        project.suggestions("category", "empty")
    with pytest.raises(InvalidInput, match="top_k"):
        project.suggestions("category", "cats", top_k=0)
    with pytest.raises(InvalidInput, match="no image with id 999"):
        project.reject_suggestions("category", "cats", [999])
    with pytest.raises(NotFound, match="no image with id 999"):
        project.accept_suggestions("category", "cats", [999])
    assert state_of(project) == before
    assert project.db.reader.execute("SELECT count(*) FROM rejected_suggestions").fetchone()[0] == 0


def test_cli_suggest_accept_reject(cats):
    project, _ = cats
    path = str(project.path)
    project.close()
    runner = CliRunner()
    result = runner.invoke(main, ["suggest", path, "category", "cats", "--top", "2", "--json"])
    assert result.exit_code == 0, result.output
    items = json.loads(result.output)
    assert len(items) == 2 and all({"path", "score", "id"} <= set(i) for i in items)
    rejected = runner.invoke(main, ["suggest-reject", path, "category", "cats", "--id", str(items[0]["id"]), "--json"])
    assert json.loads(rejected.output) == {"property": "category", "value": "cats", "rejected": 1}
    accepted = runner.invoke(main, ["suggest-accept", path, "category", "cats", "--id", str(items[1]["id"]), "--json"])
    assert json.loads(accepted.output)["accepted"] == 1
    after = json.loads(runner.invoke(main, ["suggest", path, "category", "cats", "--json"]).output)
    assert not {items[0]["id"], items[1]["id"]} & {i["id"] for i in after}


def test_http_suggestions(cats):
    project, _ = cats
    client = TestClient(create_app(project), base_url="http://127.0.0.1")
    found = client.post("/api/suggestions", json={"property": "category", "value": "cats", "top_k": 2})
    assert found.status_code == 200 and len(found.json()) == 2
    first, second = (r["id"] for r in found.json())
    assert client.post("/api/suggestions/reject", json={"property": "category", "value": "cats",
                                                        "ids": [first]}).json() == {"rejected": 1}
    assert client.post("/api/suggestions/accept", json={"property": "category", "value": "cats",
                                                        "ids": [second]}).json() == {"accepted": 1}
    assert client.post("/api/suggestions", json={"property": "nope", "value": "x"}).status_code == 404
    assert client.post("/api/suggestions/accept", json={"property": "category", "value": "cats",
                                                        "ids": []}).status_code == 422
