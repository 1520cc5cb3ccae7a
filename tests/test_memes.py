"""Memes: clustering by picture and words, and the `same template` / `same text` relations, on real rendered
captions (scikit-image's photographs, Debian's fonts, benchmarks/bench_ocr.py's renderer) read by the real OCR
engine, never a mocked one. One project is read for the module: OCR costs about a second an image."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from PIL import Image

import imagier
from conftest import load_benchmark, open_copy, sample_pixels
from imagier.cli import main
from imagier.errors import InvalidInput

bench = load_benchmark("bench_ocr")

DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
DEJAVU_SERIF_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf"
LIBERATION = "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"
SHARED = "Nobody expects the Spanish inquisition"

# name: (photograph, caption, font, style)
MEMES = {
    "astronaut-shared.jpg": ("astronaut", SHARED, DEJAVU, "bar"),
    "astronaut-other.jpg": ("astronaut", "Keep calm and carry on reading", LIBERATION, "outline"),
    "coffee-shared.jpg": ("coffee", SHARED, DEJAVU_SERIF_BOLD, "outline"),
    "rocket.jpg": ("rocket", "Meeting moved to Thursday at noon", DEJAVU, "bar"),
    "chelsea.jpg": ("chelsea", "Déjà vu à la bibliothèque", LIBERATION, "outline"),
}
PLAIN = "astronaut-plain.jpg"  # the template without a caption


def photo(name: str) -> Image.Image:
    return bench.fit(Image.fromarray(sample_pixels(name)[:, :, :3]), 0.4)


@pytest.fixture(scope="module")
def memes_template(tmp_path_factory):
    """A project of the memes, embedded and read once for the module."""
    folder = tmp_path_factory.mktemp("memes")
    for name, (picture, caption, font, style) in MEMES.items():
        bench.meme(photo(picture), caption, font, 30, style).save(folder / name, quality=92)
    photo("astronaut").save(folder / PLAIN, quality=92)
    path = tmp_path_factory.mktemp("project") / "memes.imagier"
    with imagier.open(path) as project:
        project.import_folders([folder])
        project.embed("efficientnet-lite0")
        project.read_text(workers=1)
    return path


@pytest.fixture
def memes(memes_template, tmp_path):
    with open_copy(memes_template, tmp_path / "memes.imagier") as project:
        yield project


def ids_by_name(project) -> dict[str, int]:
    return {f["name"]: f["id"] for f in project.files(project.query()["ids"])}


def relations(project) -> dict[frozenset, str]:
    """{frozenset of the two file names: relation} of every pair duplicates() reports."""
    names = {i: n for n, i in ids_by_name(project).items()}
    return {frozenset((names[p["a"]], names[p["b"]])): p["relation"]
            for g in project.duplicates() for p in g["pairs"]}


def test_memes_of_one_template_are_same_template_and_one_caption_on_two_pictures_same_text(memes):
    found = relations(memes)
    assert found[frozenset(("astronaut-shared.jpg", "astronaut-other.jpg"))] == "same template"
    assert found[frozenset(("astronaut-shared.jpg", "coffee-shared.jpg"))] == "same text"
    # Two unrelated captioned photographs are neither: no pair at all.
    assert not [pair for pair in found if pair & {"rocket.jpg", "chelsea.jpg"}]
    # The template without words is no "same template" of its memes: only images that both hold words are.
    assert not [relation for pair, relation in found.items() if PLAIN in pair and relation.startswith("same t")]


def test_without_the_text_read_the_pictures_alone_decide(memes_template, tmp_path):
    # The same memes, never read: the relations of words are not named.
    path = tmp_path / "unread.imagier"
    with open_copy(memes_template, path) as project:
        with project.db.write() as conn:
            conn.execute("DELETE FROM ocr_words")
            conn.execute("DELETE FROM ocr_reads")
        named = set(relations(project).values())
    assert not named & {"same template", "same text"}


def cluster_of(project, names: list[str], weight: float) -> dict[str, int]:
    ids = ids_by_name(project)
    clusters = project.cluster(ids=[ids[n] for n in names], k=2, text_weight=weight)
    found = {i: c["cluster"] for c in clusters for i in c["ids"]}
    return {n: found[ids[n]] for n in names}


def test_the_text_weight_moves_memes_from_their_picture_to_their_words(memes):
    names = ["astronaut-shared.jpg", "astronaut-other.jpg", "coffee-shared.jpg"]
    by_picture = cluster_of(memes, names, 0.0)
    assert by_picture["astronaut-shared.jpg"] == by_picture["astronaut-other.jpg"] != by_picture["coffee-shared.jpg"]
    by_words = cluster_of(memes, names, 1.0)
    assert by_words["astronaut-shared.jpg"] == by_words["coffee-shared.jpg"] != by_words["astronaut-other.jpg"]
    clusters = memes.cluster(ids=list(ids_by_name(memes).values()), k=2, text_weight=0.5)
    assert clusters.provenance["text_weight"] == 0.5


def test_images_without_text_still_cluster_by_picture(memes):
    # The plain astronaut holds no text: at a high text weight it still joins its picture's meme.
    assert memes.image_text(ids_by_name(memes)[PLAIN])["text"] == ""
    names = [PLAIN, "astronaut-other.jpg", "rocket.jpg"]
    clustered = cluster_of(memes, names, 0.75)
    assert clustered[PLAIN] == clustered["astronaut-other.jpg"] != clustered["rocket.jpg"]


def test_a_bad_text_weight_or_no_text_read_is_refused(memes, embedded):
    with pytest.raises(InvalidInput, match="text_weight"):
        memes.cluster(k=2, text_weight=1.5)
    with pytest.raises(InvalidInput, match="imagier ocr"):
        embedded.cluster(k=2, text_weight=0.5)


def test_the_cli_and_the_builtin_action_take_the_text_weight(memes):
    names = ["astronaut-shared.jpg", "astronaut-other.jpg", "coffee-shared.jpg"]
    ids = ids_by_name(memes)
    memes.close()
    args = ["cluster", str(memes.path), "--k", "2", "--text-weight", "1", "--json"]
    result = CliRunner().invoke(main, args + [a for n in names for a in ("--id", str(ids[n]))])
    assert result.exit_code == 0, result.output
    together = [c["paths"] for c in json.loads(result.output) if len(c["paths"]) == 2]
    assert [sorted(p.rsplit("/", 1)[1] for p in paths) for paths in together] == [
        ["astronaut-shared.jpg", "coffee-shared.jpg"]]
    with imagier.open(memes.path) as project:
        assert project.check_action("imagier.kmeans")["schema"]["properties"]["text_weight"]["maximum"] == 1
        groups = project.run_action("imagier.kmeans", {"k": 2, "text_weight": 1.0}, ids=[ids[n] for n in names])
    assert sorted(len(g["ids"]) for g in groups) == [1, 2]
    assert {ids["astronaut-shared.jpg"], ids["coffee-shared.jpg"]} in [set(g["ids"]) for g in groups]


@pytest.mark.browser
def test_the_pages_clustering_form_sends_the_weight_of_the_words(webui):
    # The embedded photographs were never read: a weight of the words above 0 is refused by the server, with
    # its reason, and the form stays open to set it back.
    page, server, project = webui
    page.get_by_test_id("cluster-view").click()
    page.get_by_test_id("cluster-auto").uncheck()
    page.get_by_test_id("cluster-k").fill("2")
    page.get_by_test_id("cluster-text-weight").fill("0.5")
    page.get_by_test_id("cluster-run").click()
    page.wait_for_selector("[data-testid=message-error]:has-text('imagier ocr')")
    page.get_by_test_id("cluster-text-weight").fill("0")
    page.get_by_test_id("cluster-run").click()
    page.get_by_test_id("cluster-form").wait_for(state="detached")
    page.get_by_test_id("overlay-banner").wait_for()
