"""Embedders and the embedding job, on real photographs (scikit-image's) and edited copies of them."""

from __future__ import annotations

import io
import json
import pickle
import subprocess
import sys
import textwrap
import threading
import zipfile
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

import imagier
from imagier.errors import Conflict, InvalidInput
from imagier.server.app import create_app
from imagier.vectors import efficientnet
from imagier.vectors.embed import GUESS_PROPERTY
from imagier.vectors.registry import get_embedder, names
from imagier.vectors.torchfile import load_state_dict

from conftest import sample_pixels
from live import LiveServer, eventually, finished_job

CATS = {"tabby", "tiger cat", "Egyptian cat", "Persian cat", "Siamese cat", "lynx"}


pytestmark = pytest.mark.usefixtures("model_cache")


def labels_by_name(project) -> dict[str, list[str]]:
    ids = project.query_ids()
    values = project.values(ids)
    return {f["path"].rsplit("/", 1)[1]: values[f["id"]].get(GUESS_PROPERTY, []) for f in project.files(ids)}


def computed_guesses_by_name(project) -> dict[str, list[str]]:
    """The guesses `project.guesses` computes from the stored vectors, by file name."""
    ids = project.query_ids()
    found = project.guesses(ids)
    return {f["path"].rsplit("/", 1)[1]: [g["label"] for g in found[f["id"]]] for f in project.files(ids)}


def content_of(project, name: str) -> int:
    return next(f["content_id"] for f in project.files(project.query_ids()) if f["name"] == name)


def photo(name: str, size: int = 256) -> Image.Image:
    image = Image.fromarray(sample_pixels(name))
    image.thumbnail((size, size))
    return image


# ---- the model ----------------------------------------------------------------------------------------

def test_the_checkpoint_reader_reads_the_legacy_file_and_the_zip_layout(tmp_path):
    legacy = efficientnet.weights_path()
    state = load_state_dict(legacy)
    assert len(state) == 296 and state["_fc.weight"].shape == (1000, 1280)
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)  # saved channels-last, read back C-ordered
    # The same checkpoint in PyTorch's newer zip layout: the same pickle, one file per storage.
    again = load_state_dict(_as_zip(legacy, tmp_path / "weights.pth"))
    assert list(again) == list(state) and all(np.array_equal(again[k], state[k]) for k in state)


def _as_zip(legacy: Path, out: Path) -> Path:
    from imagier.vectors import torchfile
    data = legacy.read_bytes()
    stream = io.BytesIO(data)
    for _ in range(3):  # magic number, protocol, system info
        pickle.load(stream)
    start = stream.tell()
    unpickler = torchfile._Unpickler(stream, legacy)
    unpickler.load()
    pickled = data[start:stream.tell()]
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("weights/data.pkl", pickled)
        for key in pickle.load(stream):
            count = int(np.frombuffer(stream.read(8), "<i8")[0])
            archive.writestr(f"weights/data/{key}", stream.read(count * unpickler.storages[key].dtype.itemsize))
    return out


def test_a_checkpoint_with_other_classes_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("ran code",))
    bad = tmp_path / "bad.pth"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("x/data.pkl", pickle.dumps({"w": Evil()}))
    with pytest.raises(InvalidInput, match="builtins.print"):
        load_state_dict(bad)
    (tmp_path / "text.pth").write_text("not a checkpoint")
    with pytest.raises(InvalidInput, match="not a readable PyTorch checkpoint"):
        load_state_dict(tmp_path / "text.pth")


def test_imagenet_classes_of_real_photographs_are_right():
    images = [photo(n) for n in ("chelsea", "coffee", "motorcycle_left", "camera", "rocket")]
    features, logits = efficientnet.EfficientNetLite0().run(efficientnet.preprocess(images))
    top5 = [[efficientnet.CLASS_NAMES[c] for c in np.argsort(-row)[:5]] for row in logits]
    assert set(top5[0][:3]) <= CATS
    assert top5[1][0] == "espresso" and {"cup", "coffee mug"} & set(top5[1])
    assert top5[2][0] in {"moped", "motor scooter"}
    assert top5[3][0] == "tripod" and "reflex camera" in top5[3]
    assert {"missile", "projectile", "space shuttle"} & set(top5[4][:3])
    # class_scores recomputes the same classes from the features alone (as stored, in float16)
    scores = efficientnet.class_scores(features.astype(np.float16))
    assert np.allclose(scores.sum(axis=1), 1) and (scores.argmax(axis=1) == logits.argmax(axis=1)).all()
    assert len(efficientnet.CLASS_NAMES) == len(set(efficientnet.CLASS_NAMES)) == 1000


def test_the_onnx_graph_is_cached_by_the_weights_hash(tmp_path, monkeypatch):
    monkeypatch.setenv("IMAGIER_CACHE", str(tmp_path))
    path = efficientnet.onnx_path()
    assert path.parent == tmp_path and efficientnet.weights_hash() in path.name
    built = path.stat().st_mtime_ns
    assert efficientnet.onnx_path().stat().st_mtime_ns == built


# ---- hashes and signatures -------------------------------------------------------------------------------

def hamming(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.unpackbits(a ^ b).sum())


def recompressed(image: Image.Image, size: int, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.resize((size, size * image.height // image.width)).save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue()))


def test_phash_is_close_for_an_edited_copy_and_far_for_another_photo():
    phash = get_embedder("phash")
    originals = [photo(n, 512) for n in ("chelsea", "coffee", "astronaut", "camera")]
    copies = [recompressed(i, 200, 40) for i in originals]
    hashes, copy_hashes = phash.embed(originals), phash.embed(copies)
    assert hashes.shape == (4, 8) and hashes.dtype == np.uint8
    for i in range(4):
        assert hamming(hashes[i], copy_hashes[i]) <= 6
        for j in range(i + 1, 4):
            assert hamming(hashes[i], hashes[j]) >= 20


@pytest.mark.parametrize("model", ["colour", "grey", "efficientnet-lite0"])
def test_cosine_signatures_match_an_edited_copy_best(model):
    embedder = get_embedder(model)
    originals = [photo(n, 512) for n in ("chelsea", "coffee", "astronaut", "camera", "rocket")]
    rows = np.concatenate([embedder.embed(originals), embedder.embed([recompressed(i, 180, 50) for i in originals])])
    rows = rows.astype(np.float32) / np.linalg.norm(rows.astype(np.float32), axis=1, keepdims=True)
    similarity = rows[5:] @ rows[:5].T
    assert (similarity.argmax(axis=1) == np.arange(5)).all()
    assert np.diag(similarity).min() > 0.6


def test_an_unknown_model_is_refused_naming_the_known_ones(imported, state_of):
    before = state_of(imported)
    with pytest.raises(InvalidInput, match="unknown model 'resnet'.*efficientnet-lite0.*phash"):
        imported.embed("resnet")
    with pytest.raises(InvalidInput, match="batch_size"):
        imported.embed("phash", batch_size=0)
    assert state_of(imported) == before and imported.vector_types() == []
    assert {"efficientnet-lite0", "phash", "colour", "grey"} <= set(names())


# ---- the embedding job -----------------------------------------------------------------------------------

def test_embedding_writes_vectors_and_labels_outside_the_undo_log(imported):
    steps = []
    report = imported.embed(progress=steps.append, batch_size=5)
    contents = imported.content_count()
    assert report == {"model": "efficientnet-lite0", "embedded": contents, "total": contents, "failed": []}
    assert steps[0]["done"] == 0 and steps[-1] == {"done": contents, "total": contents, "model": "efficientnet-lite0"}
    assert len(steps) == 1 + -(-contents // 5)
    vtype = imported.vector_type()
    assert (vtype["name"], vtype["dim"], vtype["dtype"], vtype["count"]) == ("efficientnet-lite0", 1280, "float16",
                                                                              contents)
    labels = labels_by_name(imported)
    # Only confident guesses: the camera's tripod; nothing on a retina, a star field, an astronaut
    assert labels["camera.jpg"] == labels["camera.png"] == ["tripod"]
    assert labels["retina.jpg"] == labels["hubble.jpg"] == labels["astronaut.jpg"] == []
    assert all(len(v) <= 1 for v in labels.values())
    assert labels == computed_guesses_by_name(imported)
    # the model still sees the cat, the coffee and the moped, below the guesses' threshold
    names = ("chelsea.jpg", "coffee.jpg", "motorcycle.jpg")
    features = imported.vectors_of("efficientnet-lite0", [content_of(imported, n) for n in names])
    chelsea, coffee, motorcycle = (efficientnet.CLASS_NAMES[c] for c in efficientnet.stored_scores(features).argmax(axis=1))
    assert chelsea in CATS and coffee == "espresso" and motorcycle == "moped"
    matrix = imported.vectors.matrix()
    assert np.allclose(np.linalg.norm(matrix.rows, axis=1), 1, atol=1e-3)
    guess = imported.property(GUESS_PROPERTY)
    assert guess["scope"] == "content" and guess["machine"]
    # derived data: nothing to undo, and the history says what ran
    assert [o["kind"] for o in imported.history()][:1] == ["embed"]
    with pytest.raises(Conflict, match="nothing to undo"):
        imported.undo()
    # vectors are deterministic: computing them again gives the same rows
    stored = imported.vectors_of("efficientnet-lite0", matrix.content_ids)
    imported.delete_vector_type("efficientnet-lite0")
    assert imported.embed()["embedded"] == contents
    assert np.array_equal(imported.vectors_of("efficientnet-lite0", matrix.content_ids), stored)


def test_the_default_model_is_the_default_vector_type_when_an_embedder_makes_it(imported):
    assert imported.default_model() == "efficientnet-lite0"
    imported.create_vector_type("handmade", "test", 2)  # the default type now, but no embedder makes it
    assert imported.default_model() == "efficientnet-lite0"
    imported.embed("grey")
    imported.set_default_vector_type("grey")
    assert imported.default_model() == "grey" and imported.embed()["model"] == "grey"


@pytest.mark.parametrize("type_, scope", [("text", "file"), ("multi-tag", "content")])
def test_a_guess_property_of_the_users_is_not_overwritten(imported, state_of, type_, scope):
    imported.create_property(GUESS_PROPERTY, type_, scope)
    before = state_of(imported)
    with pytest.raises(Conflict, match=f"'{GUESS_PROPERTY}'.*rename"):
        imported.embed()
    assert state_of(imported) == before and imported.vector_types() == []


def test_cancel_stops_between_batches_and_the_next_run_finishes(imported):
    cancel = threading.Event()
    report = imported.embed("grey", batch_size=3, cancel=cancel,
                            progress=lambda p: p["done"] >= 3 and cancel.set())
    assert report["embedded"] == 3 == imported.vector_type("grey")["count"]
    rest = imported.embed("grey", batch_size=3)
    assert rest["embedded"] == imported.content_count() - 3 and rest["total"] == imported.content_count()


def test_a_killed_run_resumes_where_it_stopped(imported):
    path = imported.path
    imported.close()
    script = textwrap.dedent(f"""
        import os, signal, imagier
        project = imagier.open({str(path)!r})
        def progress(p):
            if p["done"] >= 4:
                os.kill(os.getpid(), signal.SIGKILL)  # as a power cut or `kill -9` would
        project.embed(batch_size=2, progress=progress)
    """)
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9, killed.stderr
    with imagier.open(path) as project:
        assert project.vector_type()["count"] == 4
        assert labels_by_name(project) == computed_guesses_by_name(project)  # the guesses of what was committed
        report = project.embed(batch_size=2)
        assert report["embedded"] == project.content_count() - 4 and report["total"] == project.content_count()
        assert project.vector_store.contents_without_vectors("efficientnet-lite0") == []


def test_images_imported_later_are_embedded_incrementally(imported, tmp_path):
    imported.embed("phash")
    assert imported.embed("phash")["embedded"] == 0
    new = tmp_path / "new"
    new.mkdir()
    recompressed(photo("chelsea", 512), 300, 60).save(new / "cat-small.jpg")
    Image.fromarray(sample_pixels("astronaut")).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(new / "mirror.jpg")
    imported.import_folders([new])
    assert imported.embed("phash") == {"model": "phash", "embedded": 2, "total": imported.content_count(),
                                       "failed": []}
    hashes = imported.vectors_of("phash", [content_of(imported, "chelsea.jpg"), content_of(imported, "cat-small.jpg")])
    assert hamming(hashes[0], hashes[1]) <= 6


def test_a_broken_thumbnail_is_reported_and_the_others_are_embedded(imported):
    broken = content_of(imported, "camera.png")
    with imported.db.write() as conn:
        conn.execute("UPDATE thumbnails SET data = x'ffd8ffe000' WHERE content_id = ?", (broken,))
    report = imported.embed("colour")
    assert [f["content"] for f in report["failed"]] == [broken]
    assert "cannot be decoded" in report["failed"][0]["error"]
    assert report["embedded"] == imported.content_count() - 1


# ---- CLI and HTTP ---------------------------------------------------------------------------------------

def imagier_cli(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "imagier.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=300, env=env)


def test_cli_import_embeds_unless_told_not_to_and_embed_and_vectors_commands(photo_dir, tmp_path, monkeypatch):
    plain, embedded = tmp_path / "plain.imagier", tmp_path / "embedded.imagier"
    out = imagier_cli("import", plain, photo_dir, "--no-embed", "--json")
    assert out.returncode == 0, out.stderr
    assert "embedding" not in json.loads(out.stdout)
    with imagier.open(plain) as project:
        assert project.vector_types() == []
    out = imagier_cli("embed", plain, "--model", "phash", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"model": "phash", "embedded": 14, "total": 14, "failed": []}
    out = imagier_cli("embed", plain, "--model", "nope", "--json")
    assert out.returncode == 1 and "unknown model 'nope'" in json.loads(out.stdout)["message"]

    out = imagier_cli("import", embedded, photo_dir, "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["embedding"]["model"] == "efficientnet-lite0"
    out = imagier_cli("embed", embedded, "--model", "grey")
    assert out.returncode == 0 and "embedded 14 images with grey" in out.stdout
    out = imagier_cli("vectors", embedded, "--default", "grey", "--json")
    listing = json.loads(out.stdout)
    assert [(t["name"], t["default"], t["count"]) for t in listing["types"]] == [
        ("efficientnet-lite0", False, 14), ("grey", True, 14)]
    assert "phash" in listing["models"]
    with imagier.open(embedded) as project:
        assert labels_by_name(project)["camera.jpg"] == ["tripod"]


def test_http_embed_runs_as_a_job_with_progress(imported):
    with LiveServer(create_app(imported)) as live, httpx.Client(base_url=live.url, timeout=60) as client:
        assert client.get("/api/vector-types").json() == []
        refused = client.post("/api/embed", json={"model": "nope"})
        assert refused.status_code == 400 and "unknown model 'nope'" in refused.json()["message"]
        started = client.post("/api/embed", json={"batch_size": 4})
        assert started.status_code == 202, started.text
        job = started.json()["job"]
        with client.stream("GET", f"/api/jobs/{job}/events") as events:
            snapshots = [json.loads(line[6:]) for line in events.iter_lines() if line.startswith("data: ")]
        assert snapshots[-1]["state"] == "done", snapshots[-1]
        assert snapshots[-1]["result"]["embedded"] == imported.content_count()
        assert snapshots[-1]["progress"]["model"] == "efficientnet-lite0"
        assert client.post("/api/embed", json={"model": "phash"}).status_code == 202
        eventually(lambda: client.get("/api/vector-types").json()[-1]["count"] >= imported.content_count(), timeout=60)
        chosen = client.put("/api/vector-types/default", json={"name": "phash"})
        assert chosen.status_code == 200 and chosen.json()["default"] is True
        assert client.put("/api/vector-types/default", json={"name": "ghost"}).status_code == 404
        assert "efficientnet-lite0" in [m["name"] for m in client.get("/api/models").json()]


def test_http_import_embeds_the_new_images(project, photo_dir):
    with LiveServer(create_app(project, roots=[photo_dir])) as live, \
            httpx.Client(base_url=live.url, timeout=60) as client:
        job = client.post("/api/imports", json={"folders": [str(photo_dir)], "model": "colour"}).json()["job"]
        snapshot = finished_job(client, job)
        assert snapshot["state"] == "done", snapshot
        assert snapshot["result"]["embedding"]["embedded"] == project.content_count() == 14
        assert project.vector_type()["name"] == "colour"
