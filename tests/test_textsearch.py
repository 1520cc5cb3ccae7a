"""Text search on real photographs: with CLIP (the random-weight model: the mechanics, since its ranking means
nothing) and offline, with the words read as ImageNet classes through WordNet and EfficientNet-Lite0's real
weights ("an animal" finds the cat, "a drink" the coffee, "elephant" nothing, and says so)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

import imagier
import skimage
import sklearn
from clipmodel import cached
from imagier.analysis.textsearch import MIN_PROBABILITY, TOP_CLASSES, WORD_TABLE, WordTable, read_query
from imagier.cli import main
from imagier.demo import build_demo
from imagier.errors import InvalidInput, NotFound
from imagier.server.app import create_app
from imagier.vectors import clip

LABELS = "efficientnet-lite0"
ROOT = Path(__file__).resolve().parents[1]
SKIMAGE_DATA = Path(skimage.__file__).parent / "data"
SKLEARN_IMAGES = Path(sklearn.__file__).parent / "datasets" / "images"


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
    matrix = clip_project.vectors.matrix(clip.NAME)
    for f in found:
        content = clip_project.images.content_ids_of_files([f["id"]])[0]
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
    assert scores == sorted(scores, reverse=True) and all(MIN_PROBABILITY <= s <= 1 for s in scores)


def exact_probabilities(project, text: str) -> dict[int, tuple[float, float]]:
    """Every file's summed probability of the classes `text` names, from all 1000 class probabilities of
    its stored vector, and the probability outside its TOP_CLASSES best classes (which the search leaves out)."""
    from imagier.vectors.efficientnet import class_scores
    classes = read_query(text).classes
    files = project.query_ids()
    scores = class_scores(project.vectors_of(LABELS, [project.images.content_ids_of_files([f])[0] for f in files]))
    rest = 1 - np.sort(scores, axis=1)[:, -TOP_CLASSES:].sum(axis=1)
    return {f: (float(s), float(r)) for f, s, r in zip(files, scores[:, classes].sum(axis=1), rest)}


@pytest.mark.parametrize("text", ["cat", "an animal", "a drink", "vehicles"])
def test_labels_scores_are_the_class_probabilities_above_the_minimum(labels_project, text):
    found = labels_project.search(text, top_k=1000)
    exact = exact_probabilities(labels_project, text)
    for f in found:
        # only each image's TOP_CLASSES best classes count: the score may miss what is outside them
        probability, rest = exact[f["id"]]
        assert probability - rest - 1e-5 <= f["score"] <= probability + 1e-5
    # the images the words' classes hold at least MIN_PROBABILITY of are found, and only those
    assert {i for i, (p, rest) in exact.items() if p - rest >= MIN_PROBABILITY} <= {f["id"] for f in found}
    assert {f["id"] for f in found} <= {i for i, (p, _) in exact.items() if p >= MIN_PROBABILITY - 1e-5}
    assert found and len(found) < labels_project.file_count()


def test_words_combine_as_the_union_of_their_classes(labels_project):
    # "cat" adds no class to "animal": the score of an image is its probability of the union, not a sum
    # over the words that would count the cat twice
    assert labels_project.search("cats and animals", top_k=100) == labels_project.search("animal", top_k=100)
    # "cat espresso": one image holds most of one word's probability, the other most of the other's
    both = {names([f])[0]: f["score"] for f in labels_project.search("cat espresso", top_k=100)}
    for word, picture in (("cat", "chelsea.jpg"), ("espresso", "coffee.jpg")):
        alone = {names([f])[0]: f["score"] for f in labels_project.search(word, top_k=100)}
        assert both[picture] == pytest.approx(alone[picture], abs=1e-5)


def test_labels_search_with_a_filter(labels_project):
    formats = {"property": "folder", "op": "contains", "value": "formats"}
    found = labels_project.search("cat", filter=formats, top_k=100)
    assert names(found) == ["chelsea.gif"]
    assert labels_project.search("cat", filter={"property": "folder", "op": "contains", "value": "2019"}) == []


def test_unknown_words_answer_an_empty_list_and_the_closest_known_words(labels_project, state_of):
    before = state_of(labels_project)
    found = labels_project.search("espreso")
    assert found == [] and isinstance(found, list)
    assert "no ImageNet class is known for 'espreso'" in found.message and "espresso" in found.message
    assert f"imagier models get {clip.NAME}" in found.message
    found = labels_project.search("qwzx")
    assert found == [] and "no ImageNet class is known for 'qwzx'" in found.message
    found = labels_project.search("sunset over the sea")  # ranked images at 0.027 before
    assert found == [] and "no ImageNet class is known for 'sunset', 'sea'" in found.message
    found = labels_project.search("the")
    assert found == [] and "'the' has no word to search for" in found.message
    # a known word and an unknown one: the known one is searched, the other named
    found = labels_project.search("cats on the sea")
    assert names(found)[:2] in (["chelsea.jpg", "chelsea.gif"], ["chelsea.gif", "chelsea.jpg"])
    assert found.message.startswith("searched 'cat'; no ImageNet class is known for 'sea'")
    assert labels_project.search("cat").message is None
    assert state_of(labels_project) == before


def test_reading_words_as_imagenet_classes():
    from imagier.vectors.efficientnet import CLASS_NAMES
    table = WordTable.shipped()
    assert table.class_names == CLASS_NAMES  # the table's classes are the models' outputs, in order

    def classes(text):
        return {CLASS_NAMES[i] for i in read_query(text).classes}

    assert {"tiger cat", "Persian cat", "Siamese cat", "Egyptian cat", "tabby"} <= classes("cat")
    assert "polecat" not in classes("cats") and "hotdog" not in classes("dogs")
    assert len(classes("dog")) == 118 and {"beagle", "pug", "Great Dane"} <= classes("dogs")
    assert classes("Siamese cats") == {"Siamese cat"}
    assert {"goldfish", "tabby", "beagle", "bald eagle", "monarch"} <= classes("an animal")
    assert {"canoe", "speedboat", "lifeboat"} <= classes("boats") and "boathouse" not in classes("boat")
    assert {"moped", "ambulance", "airliner", "canoe"} <= classes("a vehicle")
    assert classes("a flower") == {"daisy", "yellow lady's slipper"}
    assert {"church", "palace", "monastery", "barn"} <= classes("buildings")
    assert {"pizza", "ice cream", "espresso", "consomme"} <= classes("food")
    assert {"espresso", "red wine", "eggnog"} <= classes("drinks") and "pizza" not in classes("drinks")
    assert classes("people") == classes("a person") == {"ballplayer", "groom", "scuba diver"}
    assert {"acoustic guitar", "bassoon", "grand piano"} <= classes("musical instruments")
    # phrases: the longest known one first, plurals of its last word, irregular plurals from WordNet
    assert classes("sea lions") == {"sea lion"} and classes("hot dogs") == {"hotdog"}
    assert classes("mice") == {"mouse"} and classes("jack-o'-lanterns") == {"jack-o'-lantern"}
    assert classes("syringes") == {"syringe"} and {"timber wolf", "white wolf", "red wolf"} <= classes("wolves")
    reading = read_query("A photo of a boat on the sea")
    assert list(reading.known) == ["boat"] and reading.unknown == ["sea"]
    # WordNet's top says nothing about a picture: those words are not searched
    for word in ("entity", "object", "whole", "artifact", "physical entity"):
        assert not read_query(word).known


def test_the_shipped_table_is_the_one_the_script_makes(tmp_path):
    out = tmp_path / WORD_TABLE
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_wordnet_table.py"), "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    shipped = ROOT / "src" / "imagier" / "analysis"
    assert out.read_text() == (shipped / WORD_TABLE).read_text()
    assert out.with_suffix(".LICENSE").read_text() == (shipped / "imagenet_words.LICENSE").read_text()
    assert "WordNet 3.0 Copyright 2006 by Princeton University" in out.with_suffix(".LICENSE").read_text()


# ---- the demo corpus, and a word for each kind of thing -------------------------------------------------

@pytest.fixture(scope="module")
def demo_template(tmp_path_factory):
    """The demo project (imagier.demo: scikit-image's photographs in four edits, embedded)."""
    return Path(build_demo(tmp_path_factory.mktemp("demo"))["project"])


@pytest.fixture(scope="module")
def wider_project(demo_template, tmp_path_factory):
    """The demo project and real pictures of what it has none of: scikit-learn's photographs (a Chinese
    temple, a flower) and two of scikit-image's the demo leaves out (a horse's silhouette, which
    EfficientNet-Lite0 takes for a Great Dane, and a tiny GIF it reads as a guillotine and a bassoon)."""
    folder = tmp_path_factory.mktemp("wider")
    for source in (SKLEARN_IMAGES / "china.jpg", SKLEARN_IMAGES / "flower.jpg", SKIMAGE_DATA / "horse.png",
                   SKIMAGE_DATA / "no_time_for_that_tiny.gif"):
        shutil.copyfile(source, folder / source.name)
    shutil.copyfile(demo_template, folder / "wider.imagier")
    with imagier.open(folder / "wider.imagier") as p:
        p.import_folders([folder])
        p.embed()
        yield p


def search_json(project_path, text: str, *more: str) -> dict:
    done = CliRunner().invoke(main, ["search", str(project_path), text, "--json", *more])
    assert done.exit_code == 0, done.output
    return json.loads(done.output)


def test_demo_an_animal_is_the_cat_and_a_drink_the_coffee(demo_template):
    animals = search_json(demo_template, "an animal")
    assert names(animals["results"][:4]) == ["chelsea.jpg"] * 4  # the cat in its four edits, first
    assert animals["message"] is None and animals["results"][0]["score"] > 0.9
    drinks = search_json(demo_template, "a drink")
    assert names(drinks["results"]) == ["coffee.jpg"] * 4  # the coffee, and nothing else
    done = CliRunner().invoke(main, ["search", str(demo_template), "an animal", "--top", "1"])
    assert done.exit_code == 0 and done.output.strip().endswith("/chelsea.jpg")


def test_demo_elephant_is_an_honest_empty_answer(demo_template, tmp_path):
    answer = search_json(demo_template, "elephant")
    assert answer["results"] == []
    message = answer["message"]
    assert "no image shows 'elephant'" in message and "African elephant" in message
    assert "among the 72 images searched" in message and f"imagier models get {clip.NAME}" in message
    done = CliRunner().invoke(main, ["search", str(demo_template), "elephant"])
    assert done.exit_code == 0 and done.output.strip() == message  # no image, no 0.000 filler
    shutil.copyfile(demo_template, tmp_path / "demo.imagier")
    with imagier.open(tmp_path / "demo.imagier") as project:
        assert project.search("elephant") == [] and project.search("elephant").message == message
        with TestClient(create_app(project), base_url="http://127.0.0.1") as client:
            answer = client.post("/api/search", json={"text": "elephant"})
            assert answer.status_code == 200 and answer.json() == {"results": [], "message": message}


# (words, the pictures found first, how many): a phrase for each kind of thing, and what EfficientNet-Lite0
# sees in these pictures
FOUND = [
    ("an animal", {"chelsea.jpg"}, 4),
    ("dogs", {"horse.png"}, 1),
    ("vehicles", {"motorcycle_left.jpg", "motorcycle_right.jpg"}, 8),
    ("the buildings", {"china.jpg"}, 1),
    ("some food", {"coffee.jpg"}, 4),  # the coffee: consomme and espresso to the model
    ("drinks", {"coffee.jpg"}, 4),
    ("a musical instrument", {"no_time_for_that_tiny.gif"}, 1),
    ("instruments", {"no_time_for_that_tiny.gif"}, 1),  # a guillotine is one too, to WordNet
]


@pytest.mark.parametrize("text, pictures, count", FOUND)
def test_a_word_finds_the_pictures_of_its_kind(wider_project, text, pictures, count):
    found = wider_project.search(text, top_k=100)
    assert set(names(found[:count])) == pictures and found.message is None
    assert all(name not in pictures for name in names(found[count:]))


# (words, a class named in the answer): the corpus has no picture the model sees as one
NOT_FOUND = [
    ("a boat on the sea", "canoe"),
    ("flowers", "daisy"),  # the flower: a mushroom (hen-of-the-woods) to the model
    ("a person", "scuba diver"),  # the astronaut: a bobsled; ImageNet has three kinds of person
]


@pytest.mark.parametrize("text, class_name", NOT_FOUND)
def test_a_word_with_no_picture_of_its_kind_finds_nothing(wider_project, text, class_name):
    found = wider_project.search(text, top_k=100)
    assert found == [] and "no image shows" in found.message and class_name in found.message


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
    found = search_json(labels_template, "espresso", "--top", "2")
    assert set(found) == {"results", "message"} and found["message"] is None
    assert [set(f) for f in found["results"]] == [{"path", "score"}] * 2
    assert found["results"][0]["path"].endswith(("coffee.jpg", "coffee.webp"))
    found = search_json(clip_template, "a cat", "--top", "2", "--model-path", str(clip_path),
                        "--filter", '{"property": "folder", "op": "contains", "value": "2020"}')
    assert len(found["results"]) == 2 and all("/2020/" in f["path"] for f in found["results"])
    done = runner.invoke(main, ["search", str(clip_template), "a cat", "--model-path", str(tmp_path / "none"), "--json"])
    assert done.exit_code == 1 and "--model-path" in json.loads(done.output)["message"]
    done = runner.invoke(main, ["search", str(labels_template), "cat", "--top", "1"])
    assert done.exit_code == 0 and "chelsea" in done.output
    done = runner.invoke(main, ["search", str(labels_template), "cats on the sea", "--top", "1"])
    lines = done.output.splitlines()
    assert done.exit_code == 0 and "chelsea" in lines[0] and lines[1].startswith("searched 'cat'; no ImageNet class")


def test_http(labels_project):
    with TestClient(create_app(labels_project), base_url="http://127.0.0.1") as client:
        answer = client.post("/api/search", json={"text": "espresso", "top_k": 2})
        assert answer.status_code == 200, answer.text
        assert {names([f])[0] for f in answer.json()["results"]} == {"coffee.jpg", "coffee.webp"}
        assert set(answer.json()["results"][0]) == {"id", "path", "score"} and answer.json()["message"] is None
        formats = {"property": "folder", "op": "contains", "value": "formats"}
        answer = client.post("/api/search", json={"text": "cat", "top_k": 1, "filter": formats})
        assert names(answer.json()["results"]) == ["chelsea.gif"]
        answer = client.post("/api/search", json={"text": "qwzx"})
        assert answer.status_code == 200 and answer.json()["results"] == []
        assert "no ImageNet class is known for 'qwzx'" in answer.json()["message"]
        answer = client.post("/api/search", json={"text": "cat", "top_k": 0})
        assert answer.status_code == 422
        answer = client.post("/api/search", json={"text": "cat", "vector_type": "nope"})
        assert answer.status_code == 404
