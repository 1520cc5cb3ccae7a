"""CLIP ViT-B/32 with ONNX Runtime: the real tokenizer, the real loading code and preprocessing, on a model of
the exact CLIP ViT-B/32 shape with random weights (tests/clipmodel.py), and the real photographs."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys

import httpx
import huggingface_hub.constants
import numpy as np
import pytest
from PIL import Image

import imagier
from clipmodel import TOKENIZER, cached
from conftest import sample_pixels
from imagier.server.app import create_app
from live import LiveServer, finished_job
from imagier.errors import InvalidInput, NotFound
from imagier.vectors import clip

PHOTOS = ("astronaut", "coffee", "chelsea", "motorcycle_left", "camera", "rocket", "retina", "hubble_deep_field")


@pytest.fixture(scope="session")
def clip_path():
    """The random-weight CLIP ViT-B/32 in the hub's layout (built once, kept under ~/.cache)."""
    return cached()


@pytest.fixture(scope="session")
def photos():
    return [Image.fromarray(sample_pixels(name)) for name in PHOTOS]


@pytest.fixture
def offline_hub(monkeypatch, tmp_path):
    """No model folder given or installed, and a hub that cannot be reached, whatever this machine's network
    or cache."""
    monkeypatch.delenv(clip.PATH_ENV, raising=False)
    monkeypatch.setenv("IMAGIER_CACHE", str(tmp_path / "imagier-cache"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))


def test_tokenizer_gives_clips_ids(clip_path):
    model = clip.load(clip_path)
    vocab = json.loads((TOKENIZER / "vocab.json").read_text())
    ids = model.tokenize(["A photo of a CAT", "a photo of a cat"])
    assert ids.shape == (2, 77) and ids.dtype == np.int64
    words = [vocab[f"{w}</w>"] for w in ("a", "photo", "of", "a", "cat")]
    start, end = vocab["<|startoftext|>"], vocab["<|endoftext|>"]
    assert ids[0].tolist() == [start, *words, end] + [end] * 70  # padded with the end token, as CLIP is
    assert ids[0, :7].tolist() == [49406, 320, 1125, 539, 320, 2368, 49407]  # openai/clip's own ids
    assert (ids[0] == ids[1]).all()  # CLIP lower-cases
    long = model.tokenize(["cat " * 200])[0]
    assert len(long) == 77 and long[0] == start and long[-1] == end and (long[1:-1] == vocab["cat</w>"]).all()


def test_preprocessing_is_clips(photos):
    red = Image.new("RGB", (300, 200), (255, 0, 0))
    batch = clip.preprocess([red, photos[0].convert("L")])
    assert batch.shape == (2, 3, 224, 224) and batch.dtype == np.float32
    expected = (np.array([1.0, 0.0, 0.0], np.float32) - clip.MEAN) / clip.STD
    assert np.allclose(batch[0].reshape(3, -1).mean(axis=1), expected, atol=1e-3)
    # the centre crop: a picture wider than high keeps its middle, whose left and right halves differ here
    half = Image.new("RGB", (448, 224), (0, 0, 0))
    half.paste((255, 255, 255), (224, 0, 448, 224))
    pixels = clip.preprocess([half])[0, 0]
    assert pixels[:, :100].mean() < 0 < pixels[:, 124:].mean()


def test_image_and_text_embeddings(clip_path, photos):
    model = clip.load(clip_path)
    assert clip.load(clip_path) is model  # opened once per process
    images = model.embed_images(photos)
    texts = model.embed_texts(["a cat", "a cup of coffee", "an astronaut"])
    for rows, n in ((images, len(photos)), (texts, 3)):
        assert rows.shape == (n, 512) and rows.dtype == np.float32
        assert np.allclose(np.linalg.norm(rows, axis=1), 1, atol=1e-5)
    assert not np.allclose(images[0], images[1]) and not np.allclose(texts[0], texts[1])
    # the same image in another batch gives the same vector
    assert np.allclose(model.embed_images(photos[1:2])[0], images[1], atol=1e-4)
    params = model.params
    assert params["source"] == "local folder" and params["int8"] is False
    assert set(params["sha256"]) == {clip.VISION, clip.TEXT, clip.TOKENIZER}
    assert all(len(h) == 64 for h in params["sha256"].values())


def test_int8_embeddings_match_fp32(clip_path, photos):
    fp32, int8 = clip.load(clip_path), clip.load(clip_path, int8=True)
    assert int8 is not fp32
    images, images8 = fp32.embed_images(photos), int8.embed_images(photos)
    cosines = (images * images8).sum(axis=1)
    assert cosines.min() >= 0.99, cosines
    texts = ["a cat", "a cup of coffee", "an astronaut in space"]
    assert (fp32.embed_texts(texts) * int8.embed_texts(texts)).sum(axis=1).min() >= 0.99
    # The random model's vectors share a large common part; what tells the photos apart must survive too.
    centred, centred8 = images - images.mean(axis=0), images8 - images8.mean(axis=0)
    part = (centred * centred8).sum(axis=1) / np.linalg.norm(centred, axis=1) / np.linalg.norm(centred8, axis=1)
    assert part.min() >= 0.98, part
    assert (np.argsort(-(images @ images.T), axis=1)[:, :3] == np.argsort(-(images8 @ images8.T), axis=1)[:, :3]).mean() > 0.9


def test_model_from_the_environment(clip_path, monkeypatch):
    monkeypatch.setenv(clip.PATH_ENV, str(clip_path))
    folder, source = clip.model_folder()
    assert folder == clip_path and source == "local folder"


def test_missing_folder_says_how_to_provide_the_model(tmp_path):
    with pytest.raises(NotFound) as e:
        clip.load(tmp_path / "nowhere")
    assert "no CLIP model folder at" in e.value.message and "--model-path" in e.value.message
    assert clip.PATH_ENV in e.value.message and clip.HUB_REPO in e.value.message
    (tmp_path / "half" / "onnx").mkdir(parents=True)
    (tmp_path / "half" / "onnx" / "vision_model.onnx").write_bytes(b"")
    with pytest.raises(NotFound) as e:
        clip.load(tmp_path / "half")
    assert f"lacks {clip.TEXT}, {clip.TOKENIZER}" in e.value.message


def test_offline_hub_says_how_to_provide_the_model(offline_hub):
    with pytest.raises(NotFound) as e:
        clip.load()
    assert "could not be fetched from the model hub" in e.value.message
    assert "--model-path" in e.value.message and clip.PATH_ENV in e.value.message


def test_a_broken_model_file_is_named(clip_path, tmp_path, photos):
    folder = tmp_path / "broken"
    shutil.copytree(clip_path, folder, ignore=shutil.ignore_patterns("*.onnx"))
    (folder / clip.VISION).write_bytes(b"not an onnx file")
    (folder / clip.TEXT).write_bytes(b"")
    with pytest.raises(InvalidInput) as e:
        clip.load(folder).embed_images(photos[:1])
    assert str(folder / clip.VISION) in e.value.message and "ONNX Runtime can load" in e.value.message


def test_embedding_job_makes_the_clip_vector_type(imported, clip_path, monkeypatch):
    monkeypatch.setenv(clip.PATH_ENV, str(clip_path))
    report = imported.embed(model=clip.NAME)
    assert report["model"] == clip.NAME and report["embedded"] == report["total"] == imported.content_count()
    vtype = imported.vector_type(clip.NAME)
    assert (vtype["model"], vtype["dim"], vtype["dtype"], vtype["metric"]) == (clip.NAME, 512, "float16", "cosine")
    assert vtype["params"]["sha256"][clip.VISION] == clip.file_hash(clip_path / clip.VISION)
    matrix = imported.vectors.matrix(clip.NAME)
    assert matrix.rows.shape == (imported.content_count(), 512)
    # the stored (float16) vectors are the model's own for each thumbnail
    content = int(matrix.content_ids[0])
    thumb = imported.images.thumbnails_of([content])[content]
    direct = clip.load(clip_path).embed_images([Image.open(io.BytesIO(thumb))])[0]
    assert float(matrix.rows[0] @ direct) > 0.999


def test_cli_embed_with_a_model_folder_and_int8(imported_template, clip_path, tmp_path, monkeypatch):
    path = tmp_path / "clip.imagier"
    shutil.copyfile(imported_template, path)
    env = {k: v for k, v in os.environ.items() if k != clip.PATH_ENV}
    env["HF_HUB_OFFLINE"] = "1"

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "imagier.cli", *map(str, args)], capture_output=True,
                              text=True, timeout=300, env=env)

    def error(done) -> str:  # with --json, the error is a JSON document on stdout
        assert done.returncode != 0
        return json.loads(done.stdout)["message"]

    done = cli("embed", path, "--model", clip.NAME, "--model-path", clip_path, "--int8", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["model"] == f"{clip.NAME}-int8" and report["embedded"] == report["total"] > 0
    missing = cli("embed", path, "--model", clip.NAME, "--model-path", tmp_path / "nowhere", "--json")
    assert "no CLIP model folder" in error(missing) and "nowhere" in error(missing)
    builtin = cli("embed", path, "--model", "phash", "--model-path", clip_path, "--json")
    assert "takes no model folder" in error(builtin)
    no_int8 = cli("embed", path, "--model", "phash", "--int8", "--json")
    assert "phash-int8" in error(no_int8)
    with imagier.open(path) as project:
        assert [t["name"] for t in project.vector_types()] == [f"{clip.NAME}-int8"]


def test_http_embed_with_a_model_folder(imported, clip_path, monkeypatch):
    monkeypatch.delenv(clip.PATH_ENV, raising=False)
    with LiveServer(create_app(imported)) as live, httpx.Client(base_url=live.url, timeout=60) as client:
        outside = client.post("/api/embed", json={"model": clip.NAME, "model_path": "/nowhere"})
        assert outside.status_code == 403 and "outside the folders" in outside.json()["message"]
        missing = str(imported.path.parent / "nowhere")  # inside the allowed roots
        refused = client.post("/api/embed", json={"model": clip.NAME, "model_path": missing})
        assert refused.status_code == 404 and missing in refused.json()["message"]
        started = client.post("/api/embed", json={"model": clip.NAME, "model_path": str(clip_path)})
        assert started.status_code == 202
        snapshot = finished_job(client, started.json()["job"])
        assert snapshot["state"] == "done", snapshot
    assert imported.vector_type(clip.NAME)["count"] == imported.content_count()
