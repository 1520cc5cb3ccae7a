"""The models: `imagier models` offline (list, add from a folder or an archive, corrupt files refused by name),
`imagier models get` against a real HTTP server on loopback that serves a folder the way the model hub serves
a repository (its API listing with each file's SHA-256, its resolve URLs and their redirects), the CLIP offer
with this machine's measured speed, and French text search through the multilingual text encoder.

The models are random-weight ones of the real models' exact shapes (tests/clipmodel.py,
tests/multilingualmodel.py); every test installs into its own $IMAGIER_CACHE."""

from __future__ import annotations

import hashlib
import json
import os
import pty
import shutil
import subprocess
import sys
import tarfile
import threading
import zipfile
from pathlib import Path

import httpx
import huggingface_hub.constants
import numpy as np
import onnxruntime as ort
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse

import imagier
from clipmodel import cached as clip_model
from live import ARTIFACTS, LiveServer
from multilingualmodel import cached as multilingual_model
from imagier.errors import Conflict, InvalidInput, NotFound
from imagier.server.app import create_app
from imagier.vectors import clip, models, multilingual
from imagier.vectors.embed import _duration

REVISION = "5f2c4d0a9b8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"
FRENCH = "une affiche électorale"


@pytest.fixture(scope="session")
def clip_path():
    return clip_model()


@pytest.fixture(scope="session")
def multilingual_path():
    return multilingual_model()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty model cache, and no model folder given by the environment."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(models.CACHE_ENV, str(folder))
    monkeypatch.delenv(clip.PATH_ENV, raising=False)
    monkeypatch.delenv(multilingual.PATH_ENV, raising=False)
    return folder


def cli(*args, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "imagier.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def entry(name: str) -> dict:
    return next(e for e in imagier.models.catalogue() if e["name"] == name)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# How the offer words a time: the page and the CLI must say what this says.
duration = _duration


def nothing_left_in(cache: Path) -> list[str]:
    """What a refused install left in the cache (nothing: no model folder, no partial copy)."""
    return sorted(p.name for p in cache.iterdir() if p.name != models.SPEED_FILE) if cache.exists() else []


# ---- offline: list, add ---------------------------------------------------------------------------------

def test_list_and_add_from_a_folder_offline(cache, clip_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    listed = cli("models", "--json")
    assert listed.returncode == 0, listed.stderr
    by_name = {e["name"]: e for e in json.loads(listed.stdout)}
    assert by_name["efficientnet-lite0"]["present"] and "labels" in by_name["efficientnet-lite0"]["uses"]
    assert by_name["clip-vit-b32"]["present"] is False and by_name["clip-vit-b32"]["folder"] is None
    assert by_name["clip-vit-b32"]["get"] == "imagier models get clip-vit-b32"
    assert "text search" in by_name["clip-vit-b32-multilingual"]["uses"]
    text = cli("models").stdout
    assert "clip-vit-b32\tabsent\timage vectors, text search" in text and "imagier models add PATH" in text

    added = cli("models", "add", clip_path)
    assert added.returncode == 0, added.stderr
    installed = cache / clip.NAME
    assert f"installed clip-vit-b32 in {installed}" in added.stdout
    now = entry(clip.NAME)
    assert now["present"] and now["folder"] == str(installed) and now["source"] == "local folder"
    files = [f for f in clip.SPEC.required + clip.SPEC.extras if (installed / f).exists()]
    assert now["size"] == sum((installed / f).stat().st_size for f in files)
    assert sha256(installed / clip.VISION) == sha256(clip_path / clip.VISION)
    recorded = json.loads((installed / models.SOURCE_FILE).read_text())
    assert recorded["added from"] == str(clip_path) and recorded["sha256"][clip.TEXT] == sha256(clip_path / clip.TEXT)
    # CLIP now runs from the installed folder, with no folder given and the hub out of reach
    assert clip.model_folder() == (installed, "local folder")
    relisted = {e["name"]: e for e in json.loads(cli("models", "list", "--json").stdout)}
    assert relisted[clip.NAME] == now and relisted[multilingual.NAME]["present"] is False


def test_add_from_a_tar_archive_with_its_folder_inside(cache, multilingual_path, tmp_path):
    archive = tmp_path / "multilingual.tar"
    with tarfile.open(archive, "w") as tar:  # as copied from another machine: one folder inside
        tar.add(multilingual_path, arcname="clip-ViT-B-32-multilingual-v1")
    found = imagier.models.add(archive)
    assert found["name"] == multilingual.NAME and found["present"] and found["folder"] == str(cache / multilingual.NAME)
    for name in multilingual.SPEC.required:
        assert sha256(cache / multilingual.NAME / name) == sha256(multilingual_path / name)
    assert multilingual.load().folder == cache / multilingual.NAME
    assert nothing_left_in(cache) == [multilingual.NAME]


def _folder_of_links(source: Path, target: Path, **replaced: Path) -> Path:
    """A copy of a model folder made of symbolic links (cheap), some files replaced."""
    for path in source.rglob("*"):
        if path.is_file():
            relative = path.relative_to(source).as_posix()
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            (target / relative).symlink_to(replaced.get(relative, path))
    return target


def test_add_refuses_a_corrupt_or_wrong_file_by_name(cache, clip_path, multilingual_path, tmp_path):
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes((clip_path / clip.VISION).read_bytes()[:100_000])
    corrupt = _folder_of_links(clip_path, tmp_path / "corrupt", **{clip.VISION: truncated})
    with pytest.raises(InvalidInput) as e:
        imagier.models.add(corrupt)
    assert f"{corrupt / clip.VISION} is corrupt or not an ONNX graph" in e.value.message
    done = cli("models", "add", corrupt)
    assert done.returncode == 1 and f"Error: {corrupt / clip.VISION} is corrupt" in done.stderr

    # as the hub's own cache keeps a model, a few folders down, its files links to blobs
    snapshot = tmp_path / "hub-cache" / "models--Xenova--clip-vit-base-patch32" / "snapshots" / REVISION
    _folder_of_links(clip_path, snapshot, **{clip.VISION: truncated})
    with pytest.raises(InvalidInput) as e:
        imagier.models.add(tmp_path / "hub-cache")
    assert f"{snapshot / clip.VISION} is corrupt or not an ONNX graph" in e.value.message

    swapped = _folder_of_links(clip_path, tmp_path / "swapped", **{clip.VISION: clip_path / clip.TEXT})
    with pytest.raises(InvalidInput) as e:
        imagier.models.add(swapped)
    assert f"{swapped / clip.VISION} is not the CLIP model's graph: it has no input 'pixel_values'" in e.value.message

    dense = tmp_path / "dense.safetensors"
    from multilingualmodel import write_safetensors
    write_safetensors(dense, {"linear.weight": np.zeros((512, 512), np.float32)})
    wrong_dense = _folder_of_links(multilingual_path, tmp_path / "dense", **{multilingual.DENSE: dense})
    with pytest.raises(InvalidInput) as e:
        imagier.models.add(wrong_dense)
    assert f"{wrong_dense / multilingual.DENSE} is not the projection" in e.value.message
    assert "not (512, 512)" in e.value.message

    archive = tmp_path / "corrupt.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(truncated, clip.VISION)
        z.writestr(clip.TEXT, b"")
        z.write(clip_path / clip.TOKENIZER, clip.TOKENIZER)
    with pytest.raises(InvalidInput) as e:
        imagier.models.add(archive)
    assert e.value.message.endswith(f"{clip.VISION} is corrupt or not an ONNX graph (ONNX Runtime cannot load it: "
                                    f"{e.value.message.split('cannot load it: ')[1]}")
    assert e.value.details["file"] == clip.VISION

    lacking = tmp_path / "lacking"
    shutil.copytree(clip_path, lacking, ignore=shutil.ignore_patterns("tokenizer.json", "*.onnx"))
    (lacking / clip.VISION).symlink_to(clip_path / clip.VISION)
    with pytest.raises(InvalidInput) as e:
        imagier.models.add(lacking)
    assert f"lacks {clip.TEXT}, {clip.TOKENIZER}" in e.value.message

    escaping = tmp_path / "escaping.zip"
    with zipfile.ZipFile(escaping, "w") as z:
        z.writestr("../outside.onnx", b"x")
    with pytest.raises(InvalidInput, match="holds a file outside its folder"):
        imagier.models.add(escaping)
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(InvalidInput, match="neither a folder nor a .zip or .tar archive"):
        imagier.models.add(tmp_path / "notes.txt")
    with pytest.raises(InvalidInput, match="holds none of the models imagier knows"):
        imagier.models.add(tmp_path / "corrupt" / "onnx")
    with pytest.raises(NotFound, match="does not exist"):
        imagier.models.add(tmp_path / "nowhere")
    assert nothing_left_in(cache) == [] and not entry(clip.NAME)["present"]


# ---- the hub --------------------------------------------------------------------------------------------

def hub(repositories: dict[str, Path], stated: dict[str, str] | None = None) -> FastAPI:
    """A model hub serving folders as repositories, as huggingface.co does: the API's listing (each file's
    size; LFS files with their SHA-256, the others with their git blob id), `resolve` URLs that redirect LFS
    files to a storage host, and the files. `stated` overrides the SHA-256 stated for some files."""
    app = FastAPI()
    app.state.requests = []

    def lfs(relative: str) -> bool:
        return relative.endswith((".onnx", ".safetensors"))

    def listing(repo: str) -> JSONResponse:
        if repo not in repositories:
            return JSONResponse({"error": "Repository not found"}, status_code=404)
        folder, siblings = repositories[repo], []
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "complete"):
            relative, size = path.relative_to(folder).as_posix(), path.stat().st_size
            if lfs(relative):
                digest = (stated or {}).get(relative) or models.file_hash(path)
                siblings.append({"rfilename": relative, "size": size, "blobId": "0" * 40,
                                 "lfs": {"sha256": digest, "size": size, "pointerSize": 134}})
            else:
                siblings.append({"rfilename": relative, "size": size, "blobId": models._git_blob_id(path)})
        return JSONResponse({"id": repo, "modelId": repo, "sha": REVISION, "private": False, "siblings": siblings})

    @app.get("/api/models/{owner}/{name}")
    def model_info(owner: str, name: str):
        return listing(f"{owner}/{name}")

    @app.get("/{owner}/{name}/resolve/{revision}/{path:path}")
    def resolve(request: Request, owner: str, name: str, revision: str, path: str):
        app.state.requests.append(path)
        if revision != REVISION:
            return JSONResponse({"error": "Revision not found"}, status_code=404)
        if lfs(path):
            return RedirectResponse(f"/storage/{owner}/{name}/{path}", status_code=302)
        return FileResponse(repositories[f"{owner}/{name}"] / path)

    @app.get("/storage/{owner}/{name}/{path:path}")
    def storage(owner: str, name: str, path: str):
        return FileResponse(repositories[f"{owner}/{name}"] / path)

    return app


@pytest.fixture
def hub_endpoint(monkeypatch):
    """Point huggingface_hub at a server, for the Python API (the CLI reads HF_ENDPOINT)."""
    def point(url: str) -> None:
        monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", url)
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    return point


def test_get_from_the_hub_once(cache, clip_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    app = hub({clip.HUB_REPO: clip_path})
    with LiveServer(app) as live:
        done = cli("models", "get", clip.NAME, "--json", env={"HF_ENDPOINT": live.url})
        assert done.returncode == 0, done.stdout + done.stderr
        got = json.loads(done.stdout)
        assert got["fetched"] is True and got["present"] and got["folder"] == str(cache / clip.NAME)
        assert got["source"] == clip.HUB_REPO
        fetched = set(app.state.requests)
        assert fetched == {f for f in clip.SPEC.required + clip.SPEC.extras if (clip_path / f).exists()}
        for name in fetched:
            assert sha256(cache / clip.NAME / name) == sha256(clip_path / name), name
        recorded = json.loads((cache / clip.NAME / models.SOURCE_FILE).read_text())
        assert recorded["revision"] == REVISION
        assert recorded["sha256"] == {name: sha256(clip_path / name) for name in fetched}
        again = cli("models", "get", clip.NAME, env={"HF_ENDPOINT": live.url})
        assert again.returncode == 0
        assert f"clip-vit-b32 is already on this machine, in {cache / clip.NAME}" in again.stdout
        assert len(app.state.requests) == len(fetched)  # once
    assert nothing_left_in(cache) == [clip.NAME]


def in_a_terminal(*args, env: dict) -> tuple[int, str]:
    """Run the imagier command in a pseudo-terminal (so that it shows its progress bars); its exit status and
    everything it wrote there."""
    master, slave = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "imagier.cli", *map(str, args)], stdin=slave, stdout=slave,
                               stderr=slave, env={**os.environ, "COLUMNS": "120", **env})
    os.close(slave)
    output = b""
    while True:
        try:
            chunk = os.read(master, 1 << 16)
        except OSError:  # the command ended and closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(master)
    return process.wait(timeout=60), output.decode(errors="replace")


def test_embedding_with_a_missing_model_downloads_it_first_with_a_progress_bar(cache, clip_path, imported_template,
                                                                               tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    project = tmp_path / "corpus.imagier"
    shutil.copyfile(imported_template, project)
    app = hub({clip.HUB_REPO: clip_path})
    with LiveServer(app) as live:
        status, shown = in_a_terminal("embed", project, "--model", clip.NAME, env={"HF_ENDPOINT": live.url})
    assert status == 0, shown
    assert clip.VISION in shown and " MB" in shown  # the download's bar: the file fetched, megabytes done
    with imagier.open(project) as opened:
        images = opened.content_count()
        made = opened.vector_type(clip.NAME)["params"]
    assert f"embedded {images} images with clip-vit-b32" in shown
    assert made["sha256"][clip.VISION] == sha256(clip_path / clip.VISION) and made["source"] == clip.HUB_REPO
    assert entry(clip.NAME)["source"] == clip.HUB_REPO and clip.VISION in app.state.requests


def test_get_refuses_a_download_that_is_not_what_the_hub_states(cache, multilingual_path, hub_endpoint):
    stated_wrong = {multilingual.MODEL: "ab" * 32}
    with LiveServer(hub({multilingual.HUB_REPO: multilingual_path}, stated_wrong)) as live:
        hub_endpoint(live.url)
        events = []
        with pytest.raises(InvalidInput) as e:
            imagier.models.get(multilingual.NAME, events.append)
    assert e.value.message.startswith(f"{multilingual.MODEL} downloaded from {multilingual.HUB_REPO} is corrupt")
    assert f"its SHA-256 is {sha256(multilingual_path / multilingual.MODEL)} where the hub states {'ab' * 32}" \
        in e.value.message
    assert events and events[-1]["file"] == multilingual.MODEL
    assert events[-1]["done"] == (multilingual_path / multilingual.MODEL).stat().st_size
    assert [e["done"] for e in events] == sorted(e["done"] for e in events)
    assert events[-1]["total"] == sum(p.stat().st_size for p in multilingual_path.rglob("*") if p.is_file()
                                      and p.name != "complete")
    assert nothing_left_in(cache) == [] and not entry(multilingual.NAME)["present"]


def test_a_cancelled_download_installs_nothing(cache, clip_path, hub_endpoint):
    stop = threading.Event()
    stop.set()
    with LiveServer(hub({clip.HUB_REPO: clip_path})) as live:
        hub_endpoint(live.url)
        with pytest.raises(Conflict, match="the download of clip-vit-b32 was cancelled: nothing was installed"):
            imagier.models.get(clip.NAME, cancel=stop)
    assert nothing_left_in(cache) == []


def test_get_says_why_it_cannot(cache, clip_path, hub_endpoint, tmp_path):
    lacking = shutil.copytree(clip_path, tmp_path / "lacking", ignore=shutil.ignore_patterns("*.onnx"))
    with LiveServer(hub({clip.HUB_REPO: lacking})) as live:
        hub_endpoint(live.url)
        with pytest.raises(NotFound) as e:
            imagier.models.get(clip.NAME)
        assert f"the hub repository {clip.HUB_REPO} lacks {clip.VISION}, {clip.TEXT}" in e.value.message
        with pytest.raises(InvalidInput, match="'nope' is not a model that can be downloaded; those are: "
                                               "clip-vit-b32, clip-vit-b32-multilingual"):
            imagier.models.get("nope")
        with pytest.raises(InvalidInput, match="phash ships with imagier: there is nothing to download"):
            imagier.models.get("phash")
    with LiveServer(hub({})) as live:
        hub_endpoint(live.url)
        with pytest.raises(NotFound) as e:
            imagier.models.get(clip.NAME)
        assert "could not be fetched from the model hub" in e.value.message and "imagier models add" in e.value.message
    done = cli("models", "get", clip.NAME, env={"HF_HUB_OFFLINE": "1"})
    assert done.returncode == 1 and "offline: HF_HUB_OFFLINE is set" in done.stderr
    assert nothing_left_in(cache) == []


# ---- the offer --------------------------------------------------------------------------------------------

def test_import_offers_clip_with_the_time_at_this_machines_speed(cache, clip_path, photo_dir, tmp_path):
    project = tmp_path / "corpus.imagier"
    plain = cli("import", project, photo_dir, "--no-embed")
    assert plain.returncode == 0, plain.stderr
    assert "is on this machine" not in plain.stdout and not (cache / models.SPEED_FILE).exists()

    offered = cli("import", project, photo_dir, "--no-embed", env={clip.PATH_ENV: str(clip_path)})
    assert offered.returncode == 0, offered.stderr
    figures = json.loads((cache / models.SPEED_FILE).read_text())
    [(key, seconds_per_image)] = figures.items()
    assert key.startswith(f"{clip.NAME}:{(clip_path / clip.VISION).resolve()}:") and 0 < seconds_per_image < 60
    with imagier.open(project) as opened:
        images = opened.content_count()
    assert (f"clip-vit-b32 is on this machine, for text search and finer similarity: `imagier embed {project} "
            f"--model clip-vit-b32` takes {duration(seconds_per_image * images)} for {images} images"
            in offered.stdout)
    # measured once: the next offer reads the figure
    before = (cache / models.SPEED_FILE).stat().st_mtime_ns
    assert "is on this machine" in cli("import", project, photo_dir, "--no-embed",
                                       env={clip.PATH_ENV: str(clip_path)}).stdout
    assert (cache / models.SPEED_FILE).stat().st_mtime_ns == before
    chosen = cli("import", project, photo_dir, "--no-embed", "--model", "phash", env={clip.PATH_ENV: str(clip_path)})
    assert chosen.returncode == 0 and "is on this machine" not in chosen.stdout


def test_once_measured_the_offer_does_not_open_the_model(cache, clip_path, photo_dir, tmp_path):
    folder = shutil.copytree(clip_path, tmp_path / "clip")
    project = tmp_path / "corpus.imagier"
    first = cli("import", project, photo_dir, "--no-embed", env={clip.PATH_ENV: str(folder)})
    assert first.returncode == 0 and "is on this machine" in first.stdout, first.stderr
    # The figure is kept for the image encoder's file; a model the offer would open now fails to load.
    (folder / clip.TOKENIZER).write_text("not a tokenizer")
    again = cli("import", project, photo_dir, "--no-embed", env={clip.PATH_ENV: str(folder)})
    assert again.returncode == 0, again.stderr
    assert "clip-vit-b32 is on this machine" in again.stdout


def test_http_models_and_the_offer(cache, imported, clip_path, monkeypatch):
    with LiveServer(create_app(imported)) as live, httpx.Client(base_url=live.url, timeout=120) as client:
        listed = {m["name"]: m for m in client.get("/api/models").json()}
        assert listed[clip.NAME]["present"] is False and listed["phash"]["source"] == "built in"
        offer = client.get("/api/models/offer").json()
        assert offer["uses"] is None
        assert offer["better"] == {"name": clip.NAME, "present": False, "images": imported.content_count(),
                                   "seconds": None, "estimate": None, "get": "imagier models get clip-vit-b32"}
        monkeypatch.setenv(clip.PATH_ENV, str(clip_path))
        imported.embed("phash")
        offer = client.get("/api/models/offer", params={"adding": 100}).json()
        better = offer["better"]
        assert offer["uses"] == "phash" and better["present"] and better["images"] == imported.content_count() + 100
        [speed] = json.loads((cache / models.SPEED_FILE).read_text()).values()
        assert better["seconds"] == round(speed * better["images"], 1)
        assert better["estimate"] == f"{duration(better['seconds'])} for {better['images']} images"
        assert client.get("/api/models/offer", params={"adding": -1}).status_code == 422
        refused = client.post("/api/models/phash/get")
        assert refused.status_code == 400 and "phash ships with imagier" in refused.json()["message"]
        assert client.post("/api/models/nope/get").status_code == 400
        imported.embed(clip.NAME)
        imported.set_default_vector_type(clip.NAME)
        assert client.get("/api/models/offer").json() == {"uses": clip.NAME, "better": None}


# ---- the multilingual text encoder -----------------------------------------------------------------------

def test_multilingual_encoder_is_mean_pooling_and_the_projection(multilingual_path):
    encoder = multilingual.load(multilingual_path)
    ids, mask = encoder.tokenize([FRENCH, "un chat"])
    assert encoder.tokenizer.id_to_token(int(ids[0, 0])) == "[CLS]" and ids.shape[1] == int(mask[0].sum())
    assert mask[1].tolist() == [1] * 4 + [0] * (ids.shape[1] - 4)  # [CLS] un chat [SEP], then padding
    # The sentence vector computed here from the ONNX graph and the safetensors file directly
    session = ort.InferenceSession(str(multilingual_path / multilingual.MODEL), providers=["CPUExecutionProvider"])
    alone = ids[1:, :4]
    hidden = session.run(["last_hidden_state"], {"input_ids": alone, "attention_mask": np.ones_like(alone)})[0][0]
    raw = (multilingual_path / multilingual.DENSE).read_bytes()
    size = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + size])["linear.weight"]
    start, end = header["data_offsets"]
    weight = np.frombuffer(raw[8 + size + start:8 + size + end], "<f4").reshape(512, 768)
    expected = weight @ hidden.mean(axis=0)
    expected /= np.linalg.norm(expected)
    # ... is the encoder's, for the text alone and padded in a batch with a longer one
    vectors = encoder.embed_texts([FRENCH, "un chat"])
    assert vectors.shape == (2, 512) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert np.allclose(vectors[1], expected, atol=1e-4)
    assert np.allclose(encoder.embed_texts(["un chat"])[0], expected, atol=1e-4)
    assert not np.allclose(vectors[0], vectors[1])
    long = encoder.tokenize(["affiche " * 500])[0]
    assert long.shape[1] == multilingual.MAX_TOKENS


def test_french_search_ranks_as_the_encoder_says(imported, clip_path, multilingual_path, monkeypatch):
    monkeypatch.setenv(clip.PATH_ENV, str(clip_path))
    monkeypatch.setenv(multilingual.PATH_ENV, str(multilingual_path))
    imported.embed(clip.NAME)
    matrix = imported.vectors.matrix(clip.NAME)
    query = multilingual.load().embed_texts([FRENCH])[0]
    scores = matrix.rows.astype(np.float32) @ query
    order = np.argsort(-scores, kind="stable")
    found = imported.search(FRENCH, top_k=100, text_model=multilingual.NAME)
    files = imported.images.file_ids_of_contents(matrix.content_ids[order].tolist())
    expected = [f for content in matrix.content_ids[order].tolist() for f in files[content]]
    assert [f["id"] for f in found] == expected
    assert np.allclose([f["score"] for f in found[:3]], np.sort(scores)[::-1][:3], atol=1e-5)
    english = imported.search(FRENCH, top_k=100)  # CLIP's own text encoder: another ranking
    assert [f["score"] for f in english] != [f["score"] for f in found]

    with LiveServer(create_app(imported)) as live, httpx.Client(base_url=live.url, timeout=60) as client:
        answer = client.post("/api/search", json={"text": FRENCH, "top_k": 5, "text_model": multilingual.NAME})
        assert answer.status_code == 200 and [f["id"] for f in answer.json()["results"]] == expected[:5]
        refused = client.post("/api/search", json={"text": FRENCH, "text_model": "nope"})
        assert refused.status_code == 400 and "unknown text model 'nope'" in refused.json()["message"]
    as_plugin = imported.run_action("imagier.search", {"text": FRENCH, "top_k": 5, "any_language": True})
    assert [f["path"] for f in as_plugin] == [f["path"] for f in found[:5]]
    imported.close()
    done = cli("search", imported.path, FRENCH, "--top", "3", "--text-model", multilingual.NAME, "--json")
    assert done.returncode == 0, done.stderr
    assert [f["path"] for f in json.loads(done.stdout)["results"]] == [f["path"] for f in found[:3]]


def test_the_labels_search_has_no_text_model(embedded):
    with pytest.raises(InvalidInput, match="searches clip-vit-b32 vectors"):
        embedded.search(FRENCH, text_model=multilingual.NAME)


def test_an_unknown_text_model_is_named_before_any_search(embedded):
    with pytest.raises(InvalidInput, match="unknown text model 'nope'"):
        embedded.search(FRENCH, text_model="nope")


@pytest.mark.browser
def test_the_import_dialog_offers_clip_with_its_time(cache, webui, clip_path, photo_dir, tmp_path, monkeypatch,
                                                     hub_endpoint):
    page, server, project = webui
    new = tmp_path / "new photos"
    new.mkdir()
    for name in ("2019/astronaut.jpg", "2020/chelsea.jpg", "formats/camera.png"):
        shutil.copy(photo_dir / name, new)
    page.wait_for_selector("[data-testid=project-counts]:has-text('files')")

    def open_import_dialog():
        page.click("[data-testid=project-menu]")
        page.click("[data-testid=project-import]")

    open_import_dialog()  # no CLIP model on the machine: which model the project uses, and how to get CLIP
    model = page.locator("[data-testid=import-model]")
    model.filter(has_text="imagier models get clip-vit-b32").wait_for()
    assert "This project's images are embedded with efficientnet-lite0." in model.inner_text()
    page.screenshot(path=str(ARTIFACTS / "models-import-without-clip.png"))

    images = project.content_count()
    app = hub({clip.HUB_REPO: clip_path})
    with LiveServer(app) as live:  # the page downloads it from the hub onto the server's machine
        hub_endpoint(live.url)
        page.click("[data-testid=import-get-model]")
        page.get_by_test_id("import-estimate").filter(has_text=f"for {images} images").wait_for(timeout=120_000)
    assert entry(clip.NAME)["present"] and entry(clip.NAME)["source"] == clip.HUB_REPO
    assert sha256(cache / clip.NAME / clip.VISION) == sha256(clip_path / clip.VISION)
    page.click("[data-testid=import-close]")

    shutil.rmtree(cache / clip.NAME)
    monkeypatch.setenv(clip.PATH_ENV, str(clip_path))  # the server's machine has it in a folder of its own
    open_import_dialog()
    estimate = page.locator("[data-testid=import-estimate]")
    estimate.filter(has_text=f"for {images} images").wait_for(timeout=60_000)
    figures = json.loads((cache / models.SPEED_FILE).read_text())  # one for each model folder measured
    [speed] = [v for k, v in figures.items() if f":{(clip_path / clip.VISION).resolve()}:" in k]
    assert estimate.inner_text() == f"{duration(speed * images)} for {images} images"
    page.fill("[data-testid=import-path]", str(new))
    page.click("[data-testid=import-browse]")
    estimate.filter(has_text=f"for {images + 3} images").wait_for()  # the folder's images counted in
    page.check("[data-testid=import-better]")
    page.screenshot(path=str(ARTIFACTS / "models-import-offer.png"))
    page.click("[data-testid=import-start]")
    page.wait_for_selector("[data-testid=import-report]:has-text('Added 3')", timeout=120_000)
    # the three files have the bytes of images already there: every content, those included, has its vector
    assert project.vector_type(clip.NAME)["count"] == project.content_count() == images


@pytest.fixture
def multilingual_machine(cache, clip_path, multilingual_path, monkeypatch):
    """A machine with both models (given by the environment), set before a page loads."""
    monkeypatch.setenv(clip.PATH_ENV, str(clip_path))
    monkeypatch.setenv(multilingual.PATH_ENV, str(multilingual_path))


@pytest.mark.browser
def test_the_page_searches_in_french_through_the_multilingual_encoder(multilingual_machine, webui):
    page, server, project = webui
    project.embed(clip.NAME)
    expected = project.search(FRENCH, top_k=200, text_model=multilingual.NAME)
    assert expected != project.search(FRENCH, top_k=200)  # CLIP's own text encoder ranks otherwise
    page.check("[data-testid=search-any-language]")
    page.get_by_test_id("search-input").fill(FRENCH)
    with page.expect_response("**/api/search") as answer:
        page.keyboard.press("Enter")
    assert answer.value.json() == expected.as_dict()
    # the page shows what the encoder ranked, in its order
    page.wait_for_selector(f"[data-testid=overlay-title]:has-text('Search: {FRENCH} ({len(expected)} matches)')")
    page.get_by_test_id("tile-score").first.wait_for()
    assert [int(i) for i in page.locator("[data-testid=tile]").evaluate_all("els => els.map(e => e.dataset.id)")] \
        == [r["id"] for r in expected]
    page.screenshot(path=str(ARTIFACTS / "models-search-in-french.png"))
