"""Text search on real photographs: with CLIP (the random-weight model: the mechanics, since its ranking means
nothing) and with the offline EfficientNet-Lite0's labels (real weights: "cat" finds the cat)."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

import imagier
from clipmodel import cached
from imagier.cli import main
from imagier.errors import InvalidInput, NotFound
from imagier.server.app import create_app
from imagier.vectors import clip

LABELS = "efficientnet-lite0"


@pytest.fixture(scope="module")
def clip_path():
    return cached()


@pytest.fixture(scope="module")
def clip_env(clip_path):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(clip.PATH_ENV, str(clip_path))
        yield clip_path


def _embedded(template, tmp_path_factory, name: str, *models: str):
    path = tmp_path_factory.mktemp(name) / f"{name}.imagier"
    shutil.copyfile(template, path)
    with imagier.open(path) as p:
        for model in models:
            p.embed(model=model)
    return path


@pytest.fixture(scope="module")
def clip_template(imported_template, tmp_path_factory, clip_env):
    return _embedded(imported_template, tmp_path_factory, "clip", LABELS, clip.NAME)


@pytest.fixture(scope="module")
def labels_template(imported_template, tmp_path_factory):
    return _embedded(imported_template, tmp_path_factory, "labels", LABELS)


@pytest.fixture
def clip_project(clip_template, tmp_path):
    shutil.copyfile(clip_template, tmp_path / "p.imagier")
    with imagier.open(tmp_path / "p.imagier") as p:
        yield p


@pytest.fixture
def labels_project(labels_template, tmp_path):
    shutil.copyfile(labels_template, tmp_path / "p.imagier")
    with imagier.open(tmp_path / "p.imagier") as p:
        yield p


def names(found) -> list[str]:
    return [f["path"].rsplit("/", 1)[-1] for f in found]


# ---- CLIP -------------------------------------------------------------------------------------------

def test_clip_ranks_by_cosine_of_text_and_image(clip_project, clip_path):
    # EfficientNet-Lite0 is the default type (embedded first): a CLIP type is still preferred
    assert clip_project.vector_type()["name"] == LABELS
    found = clip_project.search("a cat on a sofa", top_k=1000)
    assert len(found) == clip_project.file_count()  # every image, each file once
    assert len({f["id"] for f in found}) == len(found)
    text = clip.load(clip_path).embed_texts(["a cat on a sofa"])[0]
    matrix = clip_project.matrix(clip.NAME)
    for f in found:
        content = clip_project.content_ids_of_files([f["id"]])[0]
        assert f["score"] == pytest.approx(float(matrix.rows[matrix.index_of([content])[0]] @ text), abs=1e-5)
    scores = [f["score"] for f in found]
    assert scores == sorted(scores, reverse=True)
    # another text ranks otherwise: the scores are the text's own
    assert [f["score"] for f in clip_project.search("a rocket", top_k=1000)] != scores
    # files of one content share its score
    by_path = {f["path"]: f["score"] for f in found}
    copy = clip_project.file_id("copies/astronaut-copy.jpg")
    original = clip_project.same_content(copy)[0]["path"]
    assert by_path[original] == by_path[clip_project.file(copy)["path"]]


def test_clip_top_k_and_filter(clip_project):
    every = clip_project.search("a cup of coffee", top_k=1000)
    assert clip_project.search("a cup of coffee", top_k=3) == every[:3]
    year = {"property": "folder", "op": "contains", "value": "2019"}
    allowed = set(clip_project.query_ids(year))
    found = clip_project.search("a cup of coffee", filter=year, top_k=1000)
    assert {f["id"] for f in found} == allowed and len(allowed) == 2
    assert found == [f for f in every if f["id"] in allowed]


def test_clip_search_needs_its_own_model(clip_project, tmp_path, clip_path, state_of):
    other = tmp_path / "other-model"
    shutil.copytree(clip_path, other, ignore=shutil.ignore_patterns("text_model.onnx"))
    # a text encoder that is not the one recorded with the vectors: same shape, other weights
    import onnx
    from onnx import numpy_helper
    model = onnx.load(str(clip_path / clip.TEXT))
    first = model.graph.initializer[0]
    first.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(first) * 0.5, first.name))
    onnx.save(model, str(other / clip.TEXT))
    before = state_of(clip_project)
    with pytest.raises(InvalidInput) as e:
        clip_project.search("a cat", model_path=other)
    assert "not the one that embedded" in e.value.message and "--model-path" in e.value.message
    assert state_of(clip_project) == before


def test_clip_search_without_the_model_says_how_to_get_it(clip_project, tmp_path):
    with pytest.raises(NotFound) as e:
        clip_project.search("a cat", model_path=tmp_path / "missing")
    assert "--model-path" in e.value.message


# ---- labels (EfficientNet-Lite0, real weights) ------------------------------------------------------

def test_labels_search_finds_the_cat_and_the_coffee(labels_project):
    cats = labels_project.search("cat", top_k=3)
    assert names(cats)[0] in ("chelsea.jpg", "chelsea.gif") and cats[0]["score"] > 0.3
    assert set(names(cats)[:2]) == {"chelsea.jpg", "chelsea.gif"}
    coffee = labels_project.search("espresso", top_k=2)
    assert set(names(coffee)) == {"coffee.jpg", "coffee.webp"}
    assert names(labels_project.search("a photo of cats", top_k=1))[0] in ("chelsea.jpg", "chelsea.gif")
    scores = [f["score"] for f in labels_project.search("cat", top_k=100)]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)


def test_labels_scores_are_the_class_probabilities(labels_project):
    from imagier.analysis.textsearch import matching_classes
    from imagier.vectors.efficientnet import CLASS_NAMES, class_scores
    found = labels_project.search("cat", top_k=1000)
    contents = labels_project.content_ids_of_files([f["id"] for f in found])
    classes = matching_classes("cat", CLASS_NAMES)
    for f in found:
        content = labels_project.content_ids_of_files([f["id"]])
        exact = class_scores(labels_project.vectors_of(LABELS, content))[0, classes].sum()
        # only each image's 20 best classes count: what is left out is a sliver of probability
        assert f["score"] == pytest.approx(exact, abs=0.01)
    assert found[0]["score"] == pytest.approx(
        class_scores(labels_project.vectors_of(LABELS, contents[:1]))[0, classes].sum(), abs=1e-3)


def test_labels_search_with_a_filter(labels_project):
    formats = {"property": "folder", "op": "contains", "value": "formats"}
    found = labels_project.search("cat", filter=formats, top_k=100)
    assert names(found)[0] == "chelsea.gif"
    assert {f["id"] for f in found} == set(labels_project.query_ids(formats))


def test_labels_search_unknown_words(labels_project, state_of):
    before = state_of(labels_project)
    with pytest.raises(InvalidInput) as e:
        labels_project.search("espreso")
    assert "no ImageNet class name matches 'espreso'" in e.value.message and "espresso" in e.value.message
    with pytest.raises(InvalidInput) as e:
        labels_project.search("qwzx")
    assert "no ImageNet class name matches" in e.value.message
    assert state_of(labels_project) == before


def test_matching_classes():
    from imagier.analysis.textsearch import matching_classes
    from imagier.vectors.efficientnet import CLASS_NAMES
    cats = {CLASS_NAMES[i] for i in matching_classes("cat", CLASS_NAMES)}
    assert {"tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"} <= cats and "polecat" not in cats
    assert {CLASS_NAMES[i] for i in matching_classes("Siamese cats", CLASS_NAMES)} == {"Siamese cat"}


# ---- errors ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, top_k, words", [("", 5, "needs some words"), ("   ", 5, "needs some words"),
                                                (None, 5, "needs some words"), ("cat", 0, "top_k"),
                                                ("cat", True, "top_k"), ("cat", "3", "top_k")])
def test_bad_requests(labels_project, text, top_k, words):
    with pytest.raises(InvalidInput) as e:
        labels_project.search(text, top_k=top_k)
    assert words in e.value.message


def test_type_that_cannot_be_searched(labels_project):
    labels_project.embed(model="phash")
    with pytest.raises(InvalidInput) as e:
        labels_project.search("cat", vector_type="phash")
    assert "cannot be searched by text" in e.value.message
    with pytest.raises(NotFound):
        labels_project.search("cat", vector_type="nothing-like-it")


def test_no_vectors(imported):
    with pytest.raises(NotFound) as e:
        imported.search("cat")
    assert "imagier embed" in e.value.message
    imported.create_vector_type(LABELS, LABELS, 1280, dtype="float16")
    with pytest.raises(NotFound) as e:
        imported.search("cat")
    assert "no image has a efficientnet-lite0 vector yet" in e.value.message


# ---- CLI and HTTP ----------------------------------------------------------------------------------

def test_cli(clip_template, labels_template, clip_path, tmp_path):
    runner = CliRunner()
    done = runner.invoke(main, ["search", str(labels_template), "espresso", "--top", "2", "--json"])
    assert done.exit_code == 0, done.output
    found = json.loads(done.output)
    assert [set(f) for f in found] == [{"path", "score"}] * 2 and found[0]["path"].endswith(("coffee.jpg", "coffee.webp"))
    done = runner.invoke(main, ["search", str(clip_template), "a cat", "--top", "2", "--model-path", str(clip_path),
                                "--filter", '{"property": "folder", "op": "contains", "value": "2020"}', "--json"])
    assert done.exit_code == 0, done.output
    assert len(json.loads(done.output)) == 2 and all("/2020/" in f["path"] for f in json.loads(done.output))
    done = runner.invoke(main, ["search", str(clip_template), "a cat", "--model-path", str(tmp_path / "none"), "--json"])
    assert done.exit_code == 1 and "--model-path" in json.loads(done.output)["message"]
    done = runner.invoke(main, ["search", str(labels_template), "cat", "--top", "1"])
    assert done.exit_code == 0 and "chelsea" in done.output


def test_http(labels_project):
    with TestClient(create_app(labels_project), base_url="http://127.0.0.1") as client:
        answer = client.post("/api/search", json={"text": "espresso", "top_k": 2})
        assert answer.status_code == 200, answer.text
        assert {names([f])[0] for f in answer.json()} == {"coffee.jpg", "coffee.webp"}
        assert set(answer.json()[0]) == {"id", "path", "score"}
        formats = {"property": "folder", "op": "contains", "value": "formats"}
        answer = client.post("/api/search", json={"text": "cat", "top_k": 1, "filter": formats})
        assert names(answer.json()) == ["chelsea.gif"]
        answer = client.post("/api/search", json={"text": "qwzx"})
        assert answer.status_code == 400 and "no ImageNet class name matches" in answer.json()["message"]
        answer = client.post("/api/search", json={"text": "cat", "top_k": 0})
        assert answer.status_code == 422
        answer = client.post("/api/search", json={"text": "cat", "vector_type": "nope"})
        assert answer.status_code == 404
