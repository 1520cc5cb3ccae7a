"""Similar images: the search index (exact, hamming, approximate), calibrated scores, similar() by id,
path, group and outside file, with filters, and the CLI and HTTP routes. On the real photographs of the
fixtures, with EfficientNet-Lite0 features and a colour histogram computed here from the thumbnails."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from PIL import Image

from imagier.cli import main
from imagier.errors import Forbidden, InvalidInput, NotFound
from imagier.operations.vectors import Matrix
from imagier.server.app import create_app
from imagier.vectors.calibration import calibrate
from imagier.vectors.index import SearchIndex

from conftest import HIST, histograms, sample_pixels

def fid(project, suffix: str) -> int:
    return project.file_id(suffix)


def names(results) -> list[str]:
    return [Path(r["path"]).parent.name + "/" + Path(r["path"]).name for r in results]


# ---- the index ------------------------------------------------------------------------------------

def clustered_vectors(n: int, dim: int = 64, centres: int = 50, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    middle = rng.standard_normal((centres, dim)).astype(np.float32)
    rows = middle[rng.integers(0, centres, n)] + 0.5 * rng.standard_normal((n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def matrix_of(rows: np.ndarray, metric: str = "cosine", dim: int | None = None) -> Matrix:
    vtype = {"id": 1, "name": "t", "model": "t", "dim": dim or rows.shape[1], "metric": metric, "version": 1,
             "dtype": "bits" if metric == "hamming" else "float32"}
    return Matrix(vtype, np.arange(len(rows), dtype=np.int64), rows)


def test_exact_search_is_the_brute_force_ranking_with_candidates_and_exclusions():
    rows = clustered_vectors(3000)
    index = SearchIndex(matrix_of(rows))
    query = rows[7]
    found, dots = index.search(query, 10, exclude=np.array([7]))
    expected = np.argsort(-(rows @ query), kind="stable")
    assert found.tolist() == [r for r in expected if r != 7][:10]
    assert np.allclose(dots, rows[found] @ query, atol=1e-5)
    candidates = np.arange(0, 3000, 3)
    found, _ = index.search(query, 5, candidates=candidates)
    assert set(found) <= set(candidates) and found.tolist() == [r for r in expected if r % 3 == 0][:5]


def test_bit_vectors_rank_by_hamming_distance():
    rng = np.random.default_rng(1)
    bits = rng.integers(0, 2, (500, 64)).astype(np.uint8)
    index = SearchIndex(matrix_of(np.packbits(bits, axis=1), metric="hamming", dim=64))
    found, dots = index.search(index.vectors[0], 6, exclude=np.array([0]))
    hamming = (bits != bits[0]).sum(axis=1)
    assert np.allclose(index.similarity(dots), 1 - hamming[found] / 64)
    assert sorted(hamming[1:])[:6] == hamming[found].tolist()


def test_the_approximate_index_keeps_recall_and_honours_candidates():
    rows = clustered_vectors(20_000)
    exact, approximate = SearchIndex(matrix_of(rows)), SearchIndex(matrix_of(rows), ann_threshold=1000)
    queries = np.random.default_rng(2).choice(len(rows), 50, replace=False)
    recall = np.mean([len(set(exact.search(rows[q], 10)[0]) & set(approximate.search(rows[q], 10)[0])) / 10
                      for q in queries])
    assert approximate._ann is not None and recall >= 0.95
    candidates = np.arange(1, 20_000, 2)
    found, _ = approximate.search(rows[0], 10, candidates=candidates)
    assert len(found) == 10 and (found % 2 == 1).all()


# ---- calibration -----------------------------------------------------------------------------------

def test_calibrated_scores_are_ranks_among_the_pairs():
    rows = clustered_vectors(2000)
    calibration = calibrate(SearchIndex(matrix_of(rows)), pairs=50_000)
    sample = calibration.similarities
    assert len(sample) == 50_000 and not calibration.all_pairs
    median = float(np.median(sample))
    assert calibration.score(median) == pytest.approx(0.5, abs=0.01)
    scores = calibration.score(np.linspace(-1, 1, 201))
    assert (np.diff(scores) >= 0).all() and scores[0] == 0 and scores[-1] == 1
    assert 1 - 1e-4 < calibration.score((sample[-1] + 1) / 2) < 1  # beyond the sample: still apart from 1
    assert "higher than 50.0% of a sample of pairs" in calibration.explain(median)


def test_small_corpora_calibrate_on_every_pair(embedded):
    summary = embedded.calibration()
    assert summary["vector_type"] == "efficientnet-lite0" and summary["all_pairs"]
    assert summary["pairs"] == 14 * 13 // 2  # 14 distinct contents
    explained = embedded.explain_similarity(summary["p90"])
    assert explained["score"] == pytest.approx(0.9, abs=0.02) and explained["rank"] == 1 - explained["score"]


# ---- similar() --------------------------------------------------------------------------------------

def test_the_cats_nearest_neighbour_is_the_other_cat(embedded):
    results = embedded.similar("2020/chelsea.jpg", top_k=5)
    assert names(results)[0] == "formats/chelsea.gif"
    assert "2020/chelsea.jpg" not in names(results)
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True) and len(results) == 5
    assert set(results[0]) == {"id", "path", "score", "similarity", "rank", "copy", "relation", "edited"}
    assert results[0]["similarity"] > 0.9 and results[0]["score"] > 0.9  # a near-copy is in the top pairs
    assert results[0]["copy"] and not any(r["copy"] for r in results[1:])  # the GIF is the same picture


def test_every_format_of_a_photo_finds_its_twin(embedded):
    twins = {"2019/coffee.jpg": "formats/coffee.webp", "2021/camera.jpg": "formats/camera.png",
             "summer/hubble.jpg": "formats/hubble.heic"}
    for query, twin in twins.items():
        assert names(embedded.similar(query, top_k=1)) == [twin], query


def test_files_with_the_query_bytes_are_the_same_image_not_similar(embedded):
    results = embedded.similar("2019/astronaut.jpg", top_k=20)
    assert "copies/astronaut-copy.jpg" not in names(results) and "2019/astronaut.jpg" not in names(results)
    assert names(results)[0] == "formats/astronaut.tiff"
    assert len(results) == 15 - 2 - 0  # every other file: 15 files, the query and its copy left out


def test_ids_and_paths_query_alike_and_results_match_brute_force(embedded):
    query = fid(embedded, "2019/coffee.jpg")
    by_id = embedded.similar(query, top_k=13, vector_type=HIST)
    assert by_id == embedded.similar("2019/coffee.jpg", top_k=13, vector_type=HIST)
    assert by_id == embedded.similar(str(query), top_k=13, vector_type=HIST)  # as the CLI passes it
    content_ids, feats = histograms(embedded)
    feats /= np.linalg.norm(feats, axis=1, keepdims=True)
    content_of = {f["id"]: f["content_id"] for f in embedded.files([r["id"] for r in by_id] + [query])}
    q = feats[content_ids.index(content_of[query])]
    for r in by_id:
        assert r["similarity"] == pytest.approx(float(feats[content_ids.index(content_of[r["id"]])] @ q), abs=1e-5)


def test_a_group_ranks_by_mean_similarity_to_its_members(embedded):
    group = [fid(embedded, "2019/coffee.jpg"), fid(embedded, "2020/chelsea.jpg")]
    results = embedded.similar(group, top_k=20, vector_type=HIST)
    assert not {"2019/coffee.jpg", "2020/chelsea.jpg"} & set(names(results))
    for r in results:
        each = [s["similarity"] for s in embedded.similar(r["id"], top_k=20, vector_type=HIST) if s["id"] in group]
        assert r["similarity"] == pytest.approx(np.mean(each), abs=1e-5)
    assert [r["similarity"] for r in results] == sorted((r["similarity"] for r in results), reverse=True)


def test_a_filter_restricts_the_results(embedded):
    only_2020 = {"property": "folder", "op": "contains", "value": "2020"}
    results = embedded.similar("2020/chelsea.jpg", top_k=20, filter=only_2020)
    allowed = set(embedded.query_ids(only_2020))
    assert results and {r["id"] for r in results} <= allowed
    assert fid(embedded, "2020/chelsea.jpg") not in {r["id"] for r in results}
    embedded.create_property("kind", "tag")
    embedded.set_values("kind", [fid(embedded, "2021/camera.jpg"), fid(embedded, "formats/rocket.BMP")], "mono")
    tagged = embedded.similar("formats/camera.png", filter={"property": "kind", "op": "eq", "value": "mono"})
    assert names(tagged) == ["2021/camera.jpg", "formats/rocket.BMP"]


def test_top_k_and_min_score(embedded):
    assert len(embedded.similar("2020/chelsea.jpg", top_k=3)) == 3
    everything = embedded.similar("2020/chelsea.jpg", top_k=100)
    cut = everything[4]["score"]
    kept = embedded.similar("2020/chelsea.jpg", top_k=100, min_score=cut)
    assert kept == [r for r in everything if r["score"] >= cut] and len(kept) >= 5


def test_hash_vectors_search_by_hamming(embedded):
    results = embedded.similar("2020/chelsea.jpg", top_k=3, vector_type="phash")
    assert names(results)[0] == "formats/chelsea.gif"
    assert all(r["similarity"] * 64 == int(r["similarity"] * 64) for r in results)  # 1 - hamming / 64


def test_an_image_file_outside_the_project(embedded, tmp_path):
    crop = sample_pixels("chelsea")[30:280, 50:400]
    outside = tmp_path / "cat-crop.png"
    Image.fromarray(crop).save(outside)
    results = embedded.similar(str(outside), top_k=2)
    assert set(names(results)) == {"2020/chelsea.jpg", "formats/chelsea.gif"}
    assert len(embedded.similar(outside, top_k=15)) == 15  # nothing is left out: it is not in the project


def test_may_read_decides_which_outside_files_are_looked_at(embedded, tmp_path):
    outside = tmp_path / "cat-crop.png"
    Image.fromarray(sample_pixels("chelsea")[30:280, 50:400]).save(outside)
    asked = []

    def refuse(path):
        asked.append(path)
        raise Forbidden(f"{path} is outside the folders this server may show", path=str(path))

    for path in (outside, tmp_path / "missing.png"):  # a file that exists and one that does not: one answer
        with pytest.raises(Forbidden, match="outside the folders"):
            embedded.similar(str(path), may_read=refuse)
    assert asked == [outside, tmp_path / "missing.png"]
    allowed = embedded.similar(str(outside), top_k=2, may_read=lambda path: path.resolve())
    assert set(names(allowed)) == {"2020/chelsea.jpg", "formats/chelsea.gif"}
    assert embedded.similar("2019/coffee.jpg", top_k=1, may_read=refuse) and len(asked) == 2  # the project's own


def test_the_approximate_path_answers_like_the_exact_one(embedded):
    exact = embedded.similar("2019/coffee.jpg", top_k=5)
    embedded.ann_threshold = 3
    approximate = embedded.similar("2019/coffee.jpg", top_k=5)
    assert embedded.vectors.search_index(None)._ann is not None
    assert names(approximate) == names(exact)
    filtered = embedded.similar("2019/coffee.jpg", top_k=5, filter={"property": "format", "op": "eq", "value": "PNG"})
    assert names(filtered) == ["formats/camera.png"]


def test_bad_queries_are_refused_clearly_and_change_nothing(embedded, tmp_path, broken_dir, state_of):
    before = state_of(embedded)
    with pytest.raises(InvalidInput, match="cannot be used as a query image"):
        embedded.similar(str(broken_dir / "truncated.jpg"))
    with pytest.raises(NotFound, match="no image at"):
        embedded.similar(str(tmp_path / "nowhere.jpg"))
    with pytest.raises(NotFound, match="no image with id 999"):
        embedded.similar(999)
    with pytest.raises(NotFound, match="no vector type named 'clip'"):
        embedded.similar(1, vector_type="clip")
    with pytest.raises(InvalidInput, match="top_k"):
        embedded.similar(1, top_k=0)
    with pytest.raises(InvalidInput, match="min_score"):
        embedded.similar(1, min_score=1.5)
    with pytest.raises(InvalidInput, match="at least one image"):
        embedded.similar([])
    with pytest.raises(InvalidInput, match="unknown model 'hist'"):  # no embedder to embed an outside file with
        embedded.similar(str(broken_dir / "whole.jpg"), vector_type=HIST)
    assert state_of(embedded) == before


def test_images_without_a_vector_are_named(imported):
    imported.create_vector_type("partial", "test", 2)
    contents = [r[0] for r in imported.db.reader.execute("SELECT id FROM contents ORDER BY id")]
    imported.put_vectors("partial", contents[1:], np.ones((len(contents) - 1, 2)))
    first = imported.images.file_ids_of_contents(contents[:1])[contents[0]][0]
    with pytest.raises(InvalidInput, match="have no 'partial' vector yet .*astronaut.jpg.*imagier embed"):
        imported.similar(first)
    imported.create_vector_type("empty", "test", 2)
    with pytest.raises(NotFound, match="'empty' has no vectors yet"):
        imported.similar(first, vector_type="empty")


def test_the_index_follows_new_vectors(embedded):
    first = embedded.similar("2019/coffee.jpg", top_k=1, vector_type=HIST)
    content_ids, feats = histograms(embedded)
    webp = embedded.file(fid(embedded, "formats/coffee.webp"))["content_id"]
    coffee = embedded.file(fid(embedded, "2019/coffee.jpg"))["content_id"]
    embedded.put_vectors(HIST, [webp], -feats[content_ids.index(coffee)][None, :])  # now the opposite
    assert names(first) == ["formats/coffee.webp"]
    assert "formats/coffee.webp" not in names(embedded.similar("2019/coffee.jpg", top_k=1, vector_type=HIST))


# ---- CLI and HTTP ----------------------------------------------------------------------------------

def test_cli_similar(embedded):
    path = str(embedded.path)
    embedded.close()
    result = CliRunner().invoke(main, ["similar", path, "2020/chelsea.jpg", "--top", "3", "--json"])
    assert result.exit_code == 0, result.output
    items = json.loads(result.output)
    assert len(items) == 3 and items[0]["path"].endswith("formats/chelsea.gif")
    assert all({"path", "score"} <= set(i) for i in items)
    filtered = CliRunner().invoke(main, ["similar", path, "2020/chelsea.jpg", "--json", "--min-score", "0.9",
                                         "--filter", '{"property": "format", "op": "eq", "value": "GIF"}'])
    assert [i["path"][-11:] for i in json.loads(filtered.output)] == ["chelsea.gif"]
    bad = CliRunner().invoke(main, ["similar", path, "999", "--json"])
    assert bad.exit_code == 1 and json.loads(bad.output)["error"] == "NotFound"


def test_http_similar_and_calibration(embedded):
    client = TestClient(create_app(embedded), base_url="http://127.0.0.1")
    answer = client.post("/api/similar", json={"query": "2020/chelsea.jpg", "top_k": 2})
    assert answer.status_code == 200 and answer.json()[0]["path"].endswith("chelsea.gif")
    group = client.post("/api/similar", json={"query": [1, 2], "top_k": 3, "vector_type": HIST})
    assert group.status_code == 200 and len(group.json()) == 3
    assert client.get("/api/calibration").json()["pairs"] == 91
    assert client.post("/api/similar", json={"query": 999}).status_code == 404
    assert client.post("/api/similar", json={"query": 1, "top_k": 0}).status_code == 422


def test_the_benchmark_runs_at_a_small_size():
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import bench_vectors
    assert bench_vectors.case("exact", 3000)["ms"] > 0
    assert bench_vectors.case("ann", 5000)["recall"] >= 0.9
    assert bench_vectors.case("kmeans", 2000)["clusters"] == 100
    assert bench_vectors.case("calibration", 400)["pairs"] == 400 * 399 // 2
