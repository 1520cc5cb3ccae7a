"""Clustering: k-means and HDBSCAN on any set of the real photographs, every image once, cohesion,
saving as (hierarchical) tags in one undoable operation with provenance, errors, CLI and HTTP."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from imagier.cli import main
from imagier.errors import Conflict, InvalidInput, NotFound
from imagier.server.app import create_app

from conftest import HIST
from live import finished_job
from test_similarity import fid, names

TWINS = [{"2019/coffee.jpg", "formats/coffee.webp"}, {"2021/camera.jpg", "formats/camera.png"},
         {"summer/hubble.jpg", "formats/hubble.heic"}, {"2020/chelsea.jpg", "formats/chelsea.gif"},
         {"2019/astronaut.jpg", "copies/astronaut-copy.jpg", "formats/astronaut.tiff"}]


def as_sets(clusters) -> list[set[str]]:
    return [set(names([{"path": p} for p in c["paths"]])) for c in clusters]


def assert_partition(project, clusters, ids) -> None:
    listed = [i for c in clusters for i in c["ids"]]
    assert sorted(listed) == sorted(ids)  # every input image exactly once
    for c in clusters:
        assert [f["path"] for f in project.files(c["ids"])] == c["paths"] and c["size"] == len(c["ids"])


def test_kmeans_keeps_each_photo_with_its_other_formats(embedded):
    clusters = embedded.cluster(k=6)
    assert len(clusters) == 6 and [c["cluster"] for c in clusters] == [1, 2, 3, 4, 5, 6]
    assert_partition(embedded, clusters, embedded.query_ids())
    for twins in TWINS:  # a photo and its re-encodings are one picture to the model
        assert sum(twins <= s for s in as_sets(clusters)) == 1, twins
    assert [c["size"] for c in clusters] == sorted((c["size"] for c in clusters), reverse=True)
    assert all(0 <= c["score"] <= 1 for c in clusters)


def test_members_are_ordered_by_distance_to_the_centre_and_cohesion_is_the_mean_pair(embedded):
    clusters = embedded.cluster(k=2, vector_type=HIST)
    matrix = embedded.vectors.matrix(HIST)
    for c in clusters:
        contents = list(dict.fromkeys(f["content_id"] for f in embedded.files(c["ids"])))
        rows = matrix.rows[matrix.index_of(contents)]
        centre = rows.mean(axis=0)
        assert (np.diff(rows @ centre) <= 1e-6).all()
        pairs = rows @ rows.T
        mean_pair = (pairs.sum() - np.trace(pairs)) / (len(rows) * (len(rows) - 1)) if len(rows) > 1 else 1.0
        assert c["similarity"] == pytest.approx(mean_pair, abs=1e-5)
        assert c["score"] == pytest.approx(embedded.explain_similarity(float(mean_pair), HIST)["score"], abs=1e-6) \
            or len(rows) == 1


def test_k_is_chosen_automatically(embedded):
    clusters = embedded.cluster()
    assert 2 <= len(clusters) <= 3  # from 2 to sqrt(14 contents)
    assert clusters.provenance["k_chosen"] == "best silhouette" and clusters.provenance["k"] == len(clusters)
    assert_partition(embedded, clusters, embedded.query_ids())


def test_hdbscan_pairs_the_twins_and_groups_the_rest_as_noise(embedded):
    clusters = embedded.cluster(method="hdbscan")
    assert_partition(embedded, clusters, embedded.query_ids())
    sets = as_sets(clusters)
    for twins in TWINS[:4]:
        assert twins in sets or any(twins <= s for s in sets), twins
    noise = [c for c in clusters if c["noise"]]
    assert len(noise) <= 1 and (not noise or (clusters[-1]["noise"] and clusters[-1]["cluster"] == 0))
    assert clusters.provenance["algorithm"] == "hdbscan" and clusters.provenance["min_cluster_size"] == 2


def test_a_filter_a_group_and_a_cluster_can_be_clustered(embedded):
    formats = {"property": "folder", "op": "contains", "value": "formats"}
    wanted = embedded.query_ids(formats)
    clusters = embedded.cluster(formats, k=2)
    assert_partition(embedded, clusters, wanted)
    group = [fid(embedded, "2019/coffee.jpg"), fid(embedded, "formats/coffee.webp"), fid(embedded, "retina.jpg")]
    assert_partition(embedded, embedded.cluster(ids=group, k=2), group)
    first = embedded.cluster(k=2)[0]
    sub = embedded.cluster(ids=first["ids"], k=2)
    assert_partition(embedded, sub, first["ids"])


def test_saving_clusters_is_one_undoable_operation_with_provenance(embedded, state_of):
    before = state_of(embedded)
    clusters = embedded.cluster(k=3, save_as="clusters")
    assert [c["tag"] for c in clusters] == ["cluster 1", "cluster 2", "cluster 3"]
    for c in clusters:
        assert {i: v["clusters"] for i, v in embedded.values(c["ids"], ["clusters"]).items()} == \
            {i: c["tag"] for i in c["ids"]}
    op = embedded.history(1)[0]
    assert op["kind"] == "cluster" and op["params"]["algorithm"] == "kmeans" and op["params"]["k"] == 3
    assert op["params"]["vector_type"] == "efficientnet-lite0" and op["params"]["vector_type_version"] == 1
    assert clusters.provenance == {**op["params"], "filter": None, "parent": None}
    embedded.undo()
    assert state_of(embedded) == {**before, "ops": state_of(embedded)["ops"]}
    with pytest.raises(NotFound):
        embedded.property("clusters")


def test_sub_clusters_are_child_tags_of_their_cluster(embedded):
    top = embedded.cluster(k=2, save_as="clusters")
    biggest = top[0]
    sub = embedded.cluster(k=2, save_as="clusters", parent="cluster 1")
    assert_partition(embedded, sub, biggest["ids"])
    parent_id = embedded.tag("clusters", "cluster 1")["id"]
    assert [c["tag"] for c in sub] == ["cluster 1.1", "cluster 1.2"]
    assert all(embedded.tag("clusters", c["tag"])["parents"] == [parent_id] for c in sub)
    # the images of a sub-cluster still match their parent cluster through the tag tree
    assert sorted(embedded.query_ids({"property": "clusters", "op": "eq", "value": "cluster 1"})) == \
        sorted(biggest["ids"])
    with pytest.raises(Conflict, match="already has tags cluster 1"):
        embedded.cluster(k=2, save_as="clusters")


def test_a_multi_tag_property_keeps_its_other_tags(embedded):
    embedded.create_property("themes", "multi-tag")
    every = embedded.query_ids()
    embedded.set_values("themes", every, ["photo"])
    clusters = embedded.cluster(k=2, save_as="themes")
    for c in clusters:
        assert all(v["themes"] == sorted(["photo", c["tag"]]) for v in embedded.values(c["ids"], ["themes"]).values())


def test_clusters_already_made_are_saved_as_given_with_their_sub_clusters_in_one_operation(embedded, state_of):
    # A partition no clustering of these photographs would make: what is saved is what was given.
    ids = sorted(embedded.query_ids())
    first, second, rest = ids[:6], ids[6:9], ids[9:]
    tree = [{"cluster": 1, "ids": first, "clusters": [{"cluster": 1, "ids": first[:2]}, {"cluster": 2, "ids": first[2:5]},
                                                      {"noise": True, "ids": first[5:]}]},
            {"cluster": 2, "ids": second}, {"noise": True, "ids": rest}]
    before = state_of(embedded)
    embedded.save_clusters("reviewed", tree, provenance={"algorithm": "kmeans", "k": 3})
    tags = {t["name"]: t for t in embedded.tags("reviewed")}
    assert set(tags) == {"cluster 1", "cluster 1.1", "cluster 1.2", "cluster 1.unclustered", "cluster 2", "unclustered"}
    assert tags["cluster 1.2"]["parents"] == [tags["cluster 1"]["id"]] and tags["cluster 2"]["parents"] == []
    values = {i: v["reviewed"] for i, v in embedded.values(ids, ["reviewed"]).items()}
    assert values == {**{i: "cluster 1.1" for i in first[:2]}, **{i: "cluster 1.2" for i in first[2:5]},
                      first[5]: "cluster 1.unclustered", **{i: "cluster 2" for i in second},
                      **{i: "unclustered" for i in rest}}
    assert sorted(embedded.query_ids({"property": "reviewed", "op": "eq", "value": "cluster 1"})) == first
    op = embedded.history(1)[0]
    assert op["kind"] == "cluster" and op["params"] == {"algorithm": "kmeans", "k": 3, "property": "reviewed"}
    embedded.undo()
    assert state_of(embedded) == {**before, "ops": state_of(embedded)["ops"]}


@pytest.mark.parametrize("tree, error", [
    ([], "no clusters to save"),
    ([{"cluster": 1, "ids": [1, 2]}, {"cluster": 2, "ids": [2, 3]}], "image 2 is in both cluster 1 and cluster 2"),
    ([{"cluster": 1, "ids": [1, 2], "clusters": [{"cluster": 1, "ids": [3]}]}], "image 3 of cluster 1.1 is not among"),
    ([{"cluster": 1, "ids": [1]}, {"cluster": 1, "ids": [2]}], "both be named cluster 1"),
    ([{"cluster": 0, "ids": [1]}], "positive integer, not 0"),
    ([{"cluster": 1, "ids": []}], "non-empty list of image ids"),
    ([{"cluster": 1, "ids": ["1"]}], "integers, not '1'"),
    ([{"cluster": 1, "ids": [1, 999]}], "no image with id 999"),
])
def test_saving_bad_clusters_is_refused_and_changes_nothing(embedded, state_of, tree, error):
    before = state_of(embedded)
    with pytest.raises((InvalidInput, NotFound), match=error):
        embedded.save_clusters("reviewed", tree)
    assert state_of(embedded) == before


def test_http_saves_the_clusters_it_is_given(embedded):
    client = TestClient(create_app(embedded), base_url="http://127.0.0.1")
    ids = sorted(embedded.query_ids())
    tree = [{"cluster": 1, "ids": ids[:5], "clusters": [{"cluster": 1, "ids": ids[:2]}, {"cluster": 2, "ids": ids[2:5]}]},
            {"cluster": 2, "ids": ids[5:]}]
    saved = client.post("/api/clusters/save", json={"property": "web", "clusters": tree, "provenance": {"k": 2}})
    assert saved.status_code == 200, saved.text
    assert saved.json() == {"property": "web", "tags": ["cluster 1", "cluster 1.1", "cluster 1.2", "cluster 2"]}
    assert embedded.history(1)[0]["params"] == {"k": 2, "property": "web"}
    clash = client.post("/api/clusters/save", json={"property": "web", "clusters": tree})
    assert clash.status_code == 409 and "already has tags cluster 1" in clash.json()["message"]
    bad = client.post("/api/clusters/save", json={"property": "web2", "clusters": [{"ids": [ids[0]]}]})
    assert bad.status_code == 400 and "positive integer" in bad.json()["message"]


def test_bad_requests_are_refused_and_change_nothing(embedded, imported, state_of):
    before = state_of(embedded)
    with pytest.raises(InvalidInput, match="nothing to cluster"):
        embedded.cluster({"property": "format", "op": "eq", "value": "JPEG2000"})
    with pytest.raises(InvalidInput, match="cannot make 20 clusters of 14 distinct"):
        embedded.cluster(k=20)
    with pytest.raises(InvalidInput, match="unknown clustering method 'dbscan'"):
        embedded.cluster(method="dbscan")
    with pytest.raises(InvalidInput, match="HDBSCAN finds its own number"):
        embedded.cluster(method="hdbscan", k=3)
    with pytest.raises(InvalidInput, match="k must be an integer"):
        embedded.cluster(k=0)
    with pytest.raises(NotFound, match="no image with id 999"):
        embedded.cluster(ids=[1, 999], k=1)
    embedded.create_property("note", "text")
    before = state_of(embedded)
    with pytest.raises(InvalidInput, match="saved as tags, but 'note' is a text property"):
        embedded.cluster(k=2, save_as="note")
    with pytest.raises(InvalidInput, match="give save_as too"):
        embedded.cluster(k=2, parent="cluster 1")
    assert state_of(embedded) == before
    with pytest.raises(NotFound, match="no vectors yet"):
        imported.cluster(k=2)


def test_cli_cluster(embedded):
    path = str(embedded.path)
    embedded.close()
    result = CliRunner().invoke(main, ["cluster", path, "--k", "3", "--json", "--save-as", "groups"])
    assert result.exit_code == 0, result.output
    items = json.loads(result.output)
    paths = [p for i in items for p in i["paths"]]
    assert len(items) == 3 and len(paths) == len(set(paths)) == 15
    assert [i["cluster"] for i in items] == [1, 2, 3] and all("score" in i for i in items)
    noisy = CliRunner().invoke(main, ["cluster", path, "--method", "hdbscan", "--json"])
    assert noisy.exit_code == 0 and sum(len(i["paths"]) for i in json.loads(noisy.output)) == 15
    bad = CliRunner().invoke(main, ["cluster", path, "--k", "99", "--json"])
    assert bad.exit_code == 1 and "cannot make 99 clusters" in json.loads(bad.output)["message"]


def test_http_cluster_runs_as_a_job(embedded):
    client = TestClient(create_app(embedded), base_url="http://127.0.0.1")
    started = client.post("/api/cluster", json={"k": 2, "save_as": "web"})
    assert started.status_code == 202
    snapshot = finished_job(client, started.json()["job"])
    assert snapshot["state"] == "done", snapshot
    result = snapshot["result"]
    assert len(result["clusters"]) == 2 and result["provenance"]["property"] == "web"
    assert all("paths" not in c for c in result["clusters"])  # ids only: paths would double a large answer
    assert sum(c["size"] for c in result["clusters"]) == 15
    assert client.post("/api/cluster", json={"method": "spectral"}).status_code == 422


@pytest.mark.parametrize("body, status, words", [
    ({"ids": [1, 99999]}, 404, "no image with id 99999"),
    ({"vector_type": "nope"}, 404, "no vector type named 'nope'"),
    ({"filter": {"property": "nope", "op": "eq", "value": 1}}, 404, "nope"),
    ({"filter": {"property": "path", "op": "regex", "value": r"(a)\1"}}, 400, "regex"),
])
def test_http_cluster_refuses_a_bad_selection_before_starting_a_job(embedded, body, status, words):
    client = TestClient(create_app(embedded), base_url="http://127.0.0.1")
    refused = client.post("/api/cluster", json=body)
    assert refused.status_code == status and words in refused.json()["message"]
    assert client.get("/api/jobs").json() == []  # refused at once: no job was started to fail later
