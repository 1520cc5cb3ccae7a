"""The similarity map: a 2-D layout of a vector type, computed once per version of its vectors, through the
Python API, the CLI and a real HTTP server, on the embedded photographs."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import numpy as np
import pytest
from click.testing import CliRunner

import imagier
from imagier.analysis import layout as layout_module
from imagier.cli import main
from imagier.errors import Conflict, InvalidInput, NotFound
from imagier.server.app import create_app
from live import LiveServer, finished_job


def test_every_image_gets_a_point_and_copies_share_it(embedded, photo_dir):
    found = embedded.layout()
    files = embedded.files(embedded.query_ids())
    assert sorted(found["ids"].tolist()) == sorted(f["id"] for f in files) and found["missing"] == 0
    xy = found["xy"]
    assert xy.shape == (len(files), 2) and xy.dtype == np.float32
    assert xy.min() >= 0 and xy.max() <= 1 and np.isclose(xy.max(), 1)
    at = {int(i): xy[n] for n, i in enumerate(found["ids"])}
    by_path = {Path(f["path"]).relative_to(photo_dir).as_posix(): f["id"] for f in files}
    # The byte-identical copy is one content: one point for both files.
    assert np.array_equal(at[by_path["2019/astronaut.jpg"]], at[by_path["copies/astronaut-copy.jpg"]])
    assert found["params"]["method"].startswith("pca + t-sne") and found["vector_type"] == "efficientnet-lite0"


def test_the_same_picture_in_two_formats_lies_closer_than_most_pairs(embedded, photo_dir):
    found = embedded.layout()
    files = {f["id"]: f["path"] for f in embedded.files(found["ids"].tolist())}
    xy = {int(i): found["xy"][n] for n, i in enumerate(found["ids"])}
    ids = list(xy)
    distances = [np.linalg.norm(xy[a] - xy[b]) for a in ids for b in ids if a < b]
    median = np.median(distances)
    pairs = [("2021/camera.jpg", "formats/camera.png"), ("2019/coffee.jpg", "formats/coffee.webp"),
             ("2020/chelsea.jpg", "formats/chelsea.gif")]
    id_of = {Path(path).relative_to(photo_dir).as_posix(): i for i, path in files.items()}
    for a, b in pairs:
        assert np.linalg.norm(xy[id_of[a]] - xy[id_of[b]]) < median, (a, b)


def test_a_layout_is_computed_once_per_version_of_the_vectors(embedded, monkeypatch):
    first = embedded.layout()
    path = embedded.path
    embedded.close()

    def refuse(points):
        raise AssertionError("the stored layout should have been used")

    monkeypatch.setattr(layout_module, "_embed_landmarks", refuse)
    with imagier.open(path) as reopened:
        again = reopened.layout()  # read from the project file, not computed
        assert np.array_equal(again["xy"], first["xy"]) and again["version"] == first["version"]
        # New vectors make the stored map stale: it is computed again, from the new version.
        content_ids = reopened.vectors.matrix().content_ids[:1]
        reopened.put_vectors("efficientnet-lite0", content_ids, reopened.vectors_of("efficientnet-lite0", content_ids))
        with pytest.raises(NotFound, match="has not been computed yet"):
            reopened.layout(compute=False)
        with pytest.raises(AssertionError, match="stored layout"):
            reopened.layout()


def test_images_beyond_the_landmarks_are_placed_too(embedded, monkeypatch):
    # A few landmarks, so most of the 14 pictures are placed (as most of a large corpus is).
    monkeypatch.setattr(layout_module, "LANDMARKS", 7)
    monkeypatch.setattr(layout_module, "PLACE_CHUNK", 3)
    events = []
    found = embedded.layout(progress=events.append)
    assert [e["stage"] for e in events] == ["reduce", "landmarks", "place", "place", "place", "save"]
    assert [e["done"] for e in events] == sorted(e["done"] for e in events) and events[-1]["done"] == events[-1]["total"]
    assert found["params"]["landmarks"] == 7 and len(found["ids"]) == embedded.file_count()
    assert found["xy"].min() >= 0 and found["xy"].max() <= 1 and len({tuple(p) for p in found["xy"]}) == 14


def test_progress_advances_to_the_end_and_a_cancel_saves_nothing(embedded):
    events = []
    embedded.layout(progress=events.append)
    assert [e["stage"] for e in events] == ["reduce", "landmarks", "save"]  # 14 pictures: all landmarks
    assert events[-1]["done"] == events[-1]["total"]
    embedded.create_vector_type(HIST_COPY, "test-histogram", 64)
    embedded.put_vectors(HIST_COPY, *embedded_hist(embedded))
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Conflict, match="cancelled"):
        embedded.layout(HIST_COPY, cancel=cancel)
    with pytest.raises(NotFound):
        embedded.layout(HIST_COPY, compute=False)


HIST_COPY = "hist-copy"


def embedded_hist(project):
    matrix = project.vectors.matrix("hist")
    return matrix.content_ids, matrix.rows


def test_hash_vectors_and_refusals(embedded):
    phash = embedded.layout("phash")
    assert len(phash["ids"]) == embedded.file_count() and phash["vector_type"] == "phash"
    with pytest.raises(NotFound):
        embedded.layout("no-such-type")
    embedded.create_vector_type("empty", "test-empty", 4)
    with pytest.raises(InvalidInput, match="has no vectors yet"):
        embedded.layout("empty")


def test_http_layout_is_a_job_then_binary_points(embedded):
    with LiveServer(create_app(embedded)) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        missing = client.get("/api/layout")
        assert missing.status_code == 404 and "not been computed" in missing.json()["message"]
        assert client.post("/api/layout", json={"vector_type": "nope"}).status_code == 404
        started = client.post("/api/layout", json={})
        assert started.status_code == 202
        snapshot = finished_job(client, started.json()["job"])
        assert snapshot["state"] == "done", snapshot
        assert snapshot["result"]["points"] == embedded.file_count()
        answer = client.get("/api/layout")
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/octet-stream"
        n = int(answer.headers["x-points"])
        assert n == embedded.file_count() and answer.headers["x-missing"] == "0"
        ids = np.frombuffer(answer.content[:4 * n], "<i4")
        xy = np.frombuffer(answer.content[4 * n:], "<f4").reshape(n, 2)
        assert sorted(ids.tolist()) == sorted(embedded.query_ids())
        expected = embedded.layout()
        assert np.array_equal(xy, expected["xy"]) and np.array_equal(ids, expected["ids"])


def test_cli_layout(embedded):
    path = str(embedded.path)
    embedded.close()
    result = CliRunner().invoke(main, ["layout", path, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["points"] == 15 and report["missing"] == 0 and report["vector_type"] == "efficientnet-lite0"
    bad = CliRunner().invoke(main, ["layout", path, "--vector-type", "nope", "--json"])
    assert bad.exit_code == 1 and "nope" in json.loads(bad.output)["message"]
