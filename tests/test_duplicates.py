"""Near-duplicates on real photographs and edited copies made here: each copy is grouped with its original
with the right relation, distinct photos of similar scenes are not, identical bytes are; CLI, HTTP, errors."""

from __future__ import annotations

import io
import json
import random
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw, ImageFont, ImageOps

import imagier
from live import finished_job
from conftest import load_benchmark, open_copy, sample_pixels
from imagier.analysis import duplicates as duplicates_module
from imagier.analysis import matching
from imagier.cli import main
from imagier.errors import InvalidInput, NotFound
from imagier.server.app import create_app
from imagier.operations.vectors import Matrix
from imagier.vectors import index as index_module

EDITED = ("astronaut", "chelsea", "coffee")
# Distinct photographs of similar scenes: a stereo pair, and two textures.
LOOKALIKES = ("motorcycle_left", "motorcycle_right", "brick", "grass")

# edit -> the relation of the pair (copy, original), read "copy <relation> original"
RELATIONS = {"crop": "crop of", "caption": "overlay", "mirror": "mirrored", "grey": "greyscale",
             "resize": "resized", "border": "bordered", "jpeg": "same"}

SYMMETRIC = {"mirrored", "same"}


def edited(img: Image.Image) -> dict[str, Image.Image]:
    w, h = img.size
    caption = img.copy()
    draw = ImageDraw.Draw(caption)
    draw.rectangle((0, h - h // 6, w, h), fill=(0, 0, 0))
    draw.text((10, h - h // 7), "Archive 1987", fill=(255, 255, 255), font=ImageFont.load_default(size=h // 12))
    low = io.BytesIO()
    img.save(low, "JPEG", quality=15)
    return {"crop": img.crop((w // 8, h // 6, w // 8 + int(w * 0.65), h // 6 + int(h * 0.65))),
            "caption": caption, "mirror": ImageOps.mirror(img), "grey": ImageOps.grayscale(img),
            "resize": img.resize((w // 3, h // 3), Image.Resampling.LANCZOS), "border": ImageOps.expand(img, w // 10, "white"),
            "jpeg": Image.open(low)}


def embedded_template(folder, path):
    """A project of the pictures in `folder` with both vector types duplicates() uses, to copy per test."""
    with imagier.open(path) as p:
        p.import_folders([folder])
        p.embed("efficientnet-lite0")
        p.embed("phash")
    return path


@pytest.fixture(scope="module")
def corpus_template(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("dups")
    for name in EDITED + LOOKALIKES:
        img = Image.fromarray(sample_pixels(name)).convert("RGB")
        img.save(folder / f"{name}.jpg", quality=90)
        if name in EDITED:
            for edit, copy in edited(img).items():
                copy.save(folder / f"{name}-{edit}.jpg", quality=90)
    shutil.copyfile(folder / "coffee.jpg", folder / "coffee-bytes.jpg")
    return embedded_template(folder, tmp_path_factory.mktemp("dups-project") / "dups.imagier")


@pytest.fixture
def corpus(corpus_template, tmp_path):
    with open_copy(corpus_template, tmp_path / "dups.imagier") as p:
        yield p


def named(project, groups) -> tuple[dict[int, str], list[set[str]]]:
    names = {i: Path(path).stem for i, path in project.all_paths()}
    return names, [{names[i] for i in g["ids"]} for g in groups]


def test_each_copy_is_grouped_with_its_original_with_the_right_relation(corpus):
    groups = corpus.duplicates()
    names, sets = named(corpus, groups)
    for name in EDITED:
        group = next(g for g, s in zip(groups, sets) if name in s)
        expected = {name} | {f"{name}-{e}" for e in RELATIONS} | ({"coffee-bytes"} if name == "coffee" else set())
        assert {names[i] for i in group["ids"]} == expected
        # A pair names one file of each content: either of two files with the same bytes.
        same = {"coffee-bytes": "coffee"}
        relations = {(same.get(names[p["a"]], names[p["a"]]), same.get(names[p["b"]], names[p["b"]])): p["relation"]
                     for p in group["pairs"] if p["relation"] != "identical"}
        for edit, relation in RELATIONS.items():
            found = relations.get((f"{name}-{edit}", name))
            if relation in SYMMETRIC:
                found = found or relations.get((name, f"{name}-{edit}"))
            assert found == relation, (name, edit, relations)
        assert all(0 < p["score"] <= 1 for p in group["pairs"])


def test_distinct_photos_of_similar_scenes_are_not_grouped(corpus):
    _, sets = named(corpus, corpus.duplicates())
    grouped = set().union(*sets)
    assert not grouped & set(LOOKALIKES)
    # With a loose prefilter the stereo pair and the textures do become candidates: the check refuses them.
    _, loose = named(corpus, corpus.duplicates(min_similarity=0.0, k=40))
    assert not set().union(*loose) & set(LOOKALIKES)


def test_identical_bytes_are_duplicates_even_without_candidates(corpus):
    groups = corpus.duplicates(filter={"or": [{"property": "name", "op": "eq", "value": "coffee.jpg"},
                                              {"property": "name", "op": "eq", "value": "coffee-bytes.jpg"}]})
    _, sets = named(corpus, groups)
    assert sets == [{"coffee", "coffee-bytes"}]
    [pair] = groups[0]["pairs"]
    assert pair["relation"] == "identical" and pair["score"] == 1.0


def test_the_filter_limits_the_images_looked_at(corpus):
    groups = corpus.duplicates(filter={"property": "name", "op": "startswith", "value": "chelsea"},
                               vector_type="phash")
    _, sets = named(corpus, groups)
    assert len(sets) == 1 and sets[0] <= {"chelsea"} | {f"chelsea-{e}" for e in RELATIONS}
    assert {"chelsea", "chelsea-jpeg", "chelsea-resize", "chelsea-grey"} <= sets[0]


def test_a_cancelled_run_resumes_from_the_pairs_it_checked(corpus, monkeypatch):
    monkeypatch.setattr(duplicates_module, "CHUNK", 4)
    cancel = threading.Event()
    seen = []

    def progress(event):
        seen.append(event)
        cancel.set()

    partial = corpus.duplicates(progress=progress, cancel=cancel)
    assert len(seen) == 1 and seen[0]["done"] == 4 < seen[0]["total"]
    checked = dict(corpus.duplicate_finder.checked_pairs)
    assert len(checked) == 4
    full = corpus.duplicates()
    assert len(corpus.duplicate_finder.checked_pairs) > len(checked)
    assert all(corpus.duplicate_finder.checked_pairs[k] is v for k, v in checked.items())  # not checked twice
    assert sum(len(g["ids"]) for g in full) > sum(len(g["ids"]) for g in partial)


def test_bad_input_is_refused_with_a_clear_message(corpus, project, photo_dir, state_of):
    before = state_of(corpus)
    with pytest.raises(NotFound, match="no vector type named 'clip'.*efficientnet-lite0, phash"):
        corpus.duplicates(vector_type="clip")
    with pytest.raises(InvalidInput, match="k must be a positive integer"):
        corpus.duplicates(k=0)
    with pytest.raises(InvalidInput, match="min_similarity"):
        corpus.duplicates(min_similarity=2)
    corpus.create_vector_type("grey", "grey", 256)
    with pytest.raises(InvalidInput, match="'grey' has no vectors yet: run `imagier embed --model grey`"):
        corpus.duplicates(vector_type="grey")
    assert state_of(corpus) == before
    project.import_folders([photo_dir])
    with pytest.raises(NotFound, match="no vectors yet: run `imagier embed`"):
        project.duplicates()


def test_cli_lists_groups_of_paths(corpus):
    path = str(corpus.path)
    corpus.close()
    result = CliRunner().invoke(main, ["duplicates", path, "--json"])
    assert result.exit_code == 0, result.output
    groups = json.loads(result.output)
    assert all(isinstance(g, list) and len(g) >= 2 and all(isinstance(p, str) for p in g) for g in groups)
    assert {Path(p).stem for p in groups[0]} >= {"coffee", "coffee-crop", "coffee-bytes"}
    details = json.loads(CliRunner().invoke(main, ["duplicates", path, "--json", "--details"]).output)
    assert [d["paths"] for d in details] == groups
    assert {"a", "b", "relation", "score"} == set(details[0]["pairs"][0])
    bad = CliRunner().invoke(main, ["duplicates", path, "--vector-type", "nope", "--json"])
    assert bad.exit_code == 1 and "no vector type named 'nope'" in json.loads(bad.output)["message"]


def test_http_finds_duplicates_as_a_job(corpus):
    client = TestClient(create_app(corpus), base_url="http://127.0.0.1")
    started = client.post("/api/duplicates", json={"filter": {"property": "name", "op": "startswith",
                                                              "value": "astronaut"}})
    assert started.status_code == 202
    job = finished_job(client, started.json()["job"])
    assert job["state"] == "done", job
    [group] = job["result"]
    assert len(group["ids"]) == 1 + len(RELATIONS)
    assert client.post("/api/duplicates", json={"vector_type": "nope"}).status_code == 404
    assert client.post("/api/duplicates", json={"k": 0}).status_code == 422
    bad_filter = client.post("/api/duplicates", json={"filter": {"property": "nope", "op": "eq", "value": 1}})
    assert bad_filter.status_code == 404 and "nope" in bad_filter.json()["message"]  # at once, not in the job


def test_candidates_beyond_the_exact_size_come_from_the_inverted_index(monkeypatch):
    # Vectors that all point roughly one way, as photos' embeddings do, with near copies planted.
    monkeypatch.setattr(index_module, "EXACT_KNN", 1000)
    rng = np.random.default_rng(0)
    rows = np.abs(rng.standard_normal((5000, 64))).astype(np.float32)
    copies = np.arange(0, 5000, 50)
    rows[copies + 1] = rows[copies] + 0.05 * rng.standard_normal((len(copies), 64)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    ids = np.arange(1, 5001, dtype=np.int64)
    matrix = Matrix({"metric": "cosine", "dim": 64}, ids, rows)
    pairs = duplicates_module._neighbour_pairs(matrix, ids, 10, 0.97)
    planted = {(int(ids[c]), int(ids[c + 1])) for c in copies}
    assert len(planted & pairs) >= 0.95 * len(planted)
    exact = {(a, b) for a, b in pairs if rows[a - 1] @ rows[b - 1] >= 0.97}
    assert exact == pairs  # the kept pairs' similarities are the exact ones


# ---- pictures with little texture: the whole-frame and crop signals ---------------------------------------
# Real wallpapers of Debian's small lomiri-wallpapers-20.04 and -16.04 packages and scikit-image's moon;
# the edits are the benchmark corpus's (benchmarks/dup_corpus.py), with a fixed seed.

WALLPAPERS = Path("/usr/share/backgrounds")
TEXTURELESS = {"fossa": "Fossa_by_Jasper_Roks.jpg", "sea": "Infinite-Sea_by_Aury88.jpg",
               "kleiber": "Kleiber_by_Lukas_Baubkus.jpg", "stripes": "Painting-Colors_by__herobrine7gamer.jpg"}
# Pairs of different pictures that look alike: one series of purple Ubuntu gradients, two sunsets (a
# painted one and a photograph), one photographer's two mountain landscapes, one artist's two pictures.
MUST_NOT_MATCH = [("fossa", "purple"), ("sea", "sunset"), ("aitzgorri", "picos"), ("picture0b", "picture1a")]
LOOKALIKE_FILES = {"purple": "lomiri-default-background.png", "sunset": "sunset_by_Aitzol_Berasategi.jpg",
                   "aitzgorri": "aitzgorri_by_Aitzol_Berasategi.jpg", "picos": "picosdeeuropa_by_Aitzol_Berasategi.jpg",
                   "picture0b": "Picture_0B_by_freespace.jpg", "picture1a": "Picture_1A_by_freespace.jpg"}
CORPUS_EDITS = ("crop", "caption", "text", "resize", "jpeg", "grey", "mirror", "border", "rotate", "colour")


def corpus_module():
    return load_benchmark("dup_corpus")


def wallpaper(name: str) -> Image.Image:
    path = WALLPAPERS / {**TEXTURELESS, **LOOKALIKE_FILES}[name]
    assert path.exists(), f"{path} is missing: apt-get install lomiri-wallpapers lomiri-wallpapers-16.04 lomiri-wallpapers-20.04"
    img = Image.open(path).convert("RGB")
    img.thumbnail((1024, 1024))
    return img


def thumbnail_features(img: Image.Image):
    """The features duplicates() computes, from a thumbnail made as the import makes it."""
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=90)
    thumb = Image.open(buffer).convert("RGB")
    thumb.thumbnail((256, 256))
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=80)
    return matching.features(Image.open(out), img.size)


@pytest.fixture(scope="module")
def textureless():
    """{name: {"original" or edit: picture}} for the textureless pictures and the moon."""
    corpus = corpus_module()
    fonts = corpus.fonts()
    pictures = {name: wallpaper(name) for name in TEXTURELESS}
    pictures["moon"] = Image.fromarray(sample_pixels("moon")).convert("RGB")
    out = {}
    for name, img in pictures.items():
        rng = random.Random(f"test-{name}")
        out[name] = {"original": img, **{e: corpus.edit(img, e, rng, fonts)[0] for e in CORPUS_EDITS}}
    return out


def test_whole_frames_agree_for_recoloured_greyscale_resized_recompressed_and_mirrored_copies(textureless):
    for name, pictures in textureless.items():
        original = thumbnail_features(pictures["original"])
        for edit in ("colour", "grey", "resize", "jpeg"):
            same, _ = matching.frame_similarity(original, thumbnail_features(pictures[edit]))
            assert same >= matching.FRAME_SSIM, (name, edit, same)
        same, mirrored = matching.frame_similarity(original, thumbnail_features(pictures["mirror"]))
        assert mirrored >= matching.FRAME_SSIM, (name, same, mirrored)


def test_a_border_or_letterbox_is_trimmed_before_the_frames_are_compared(textureless):
    img = textureless["fossa"]["original"]
    for bordered in (ImageOps.expand(img, 60, "white"), ImageOps.expand(img, (0, 90), "black")):
        f = thumbnail_features(bordered)
        x0, y0, x1, y1 = f.box
        # The box is the picture: its share of the thumbnail is the picture's share of the bordered file.
        assert abs((x1 - x0) / f.grey.shape[1] - img.width / bordered.width) < 0.05
        assert abs((y1 - y0) / f.grey.shape[0] - img.height / bordered.height) < 0.05


def test_a_crop_is_found_inside_its_original_where_it_was_cut(textureless):
    for name in ("fossa", "sea", "stripes", "moon"):
        img = textureless[name]["original"]
        w, h = img.size
        box = (w // 5, h // 4, w // 5 + int(w * 0.55), h // 4 + int(h * 0.55))
        inner, outer = thumbnail_features(img.crop(box)), thumbnail_features(img)
        similarity, transform = matching.crop_similarity(inner, outer)
        assert similarity >= matching.CROP_SSIM, (name, similarity)
        # The transform lays the crop's corners on the box it was cut from (in the original's keypoint image).
        corners = np.array([[0, 0, 1], [inner.size[0], inner.size[1], 1]], float).T
        found = (transform @ corners)[:2].T / (np.array(outer.size) / np.array(img.size))
        assert np.abs(found - np.array([box[:2], box[2:]])).max() < 0.05 * w, (name, found, box)


def test_pairs_of_different_pictures_that_look_alike_do_not_match(textureless):
    features = {name: thumbnail_features(wallpaper(name)) for pair in MUST_NOT_MATCH for name in pair}
    for a, b in MUST_NOT_MATCH:
        assert matching.verify(features[a], features[b], lambda b=b: features[b]) is None, (a, b)
        assert max(matching.frame_similarity(features[a], features[b])) < matching.FRAME_SSIM, (a, b)
        assert max(matching.crop_similarity(features[a], features[b])[0],
                   matching.crop_similarity(features[b], features[a])[0]) < matching.CROP_SSIM, (a, b)
    # Nor when one of them is edited.
    for edit in ("colour", "grey", "crop", "mirror"):
        copy = thumbnail_features(textureless["fossa"][edit])
        assert matching.verify(features["purple"], copy, lambda: copy) is None, edit


@pytest.fixture(scope="module")
def textureless_template(textureless, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("textureless")
    for name, pictures in textureless.items():
        for edit, img in pictures.items():
            img.save(folder / f"{name}-{edit}.jpg", quality=90)
    for name in ("purple", "sunset"):
        wallpaper(name).save(folder / f"{name}.jpg", quality=90)
    return embedded_template(folder, tmp_path_factory.mktemp("textureless-project") / "textureless.imagier")


@pytest.fixture
def textureless_project(textureless_template, tmp_path):
    with open_copy(textureless_template, tmp_path / "textureless.imagier") as p:
        yield p


def test_textureless_pictures_are_grouped_with_all_their_copies_and_nothing_else(textureless_project):
    groups = textureless_project.duplicates()
    names, sets = named(textureless_project, groups)
    for name in [*TEXTURELESS, "moon"]:
        expected = {f"{name}-original"} | {f"{name}-{e}" for e in CORPUS_EDITS}
        assert expected in sets, (name, [(expected - s, s - expected) for s in sets if f"{name}-original" in s])
    assert not {"purple", "sunset"} & set().union(*sets)
    relations = {(names[p["a"]], names[p["b"]]): p["relation"] for g in groups for p in g["pairs"]}
    for name in [*TEXTURELESS, "moon"]:
        pairs_with_original = {k: v for k, v in relations.items() if f"{name}-original" in k}
        for edit, relation in (("crop", "crop of"), ("mirror", "mirrored"), ("grey", "greyscale")):
            found = [v for k, v in pairs_with_original.items() if f"{name}-{edit}" in k]
            assert found in ([], [relation], ["identical"]), (name, edit, found)  # the moon is grey already


def test_similar_images_put_the_copies_first_and_say_so(textureless_project):
    ids = {Path(p).stem: i for i, p in textureless_project.all_paths()}
    results = textureless_project.similar(ids["fossa-original"], top_k=12)
    copies = [r for r in results if r["copy"]]
    assert len(copies) >= 9 and results[:len(copies)] == copies  # the copies, then mere likeness
    assert {Path(r["path"]).stem for r in copies} <= {f"fossa-{e}" for e in CORPUS_EDITS}
    by_name = {Path(r["path"]).stem: r for r in copies}
    if "fossa-crop" in by_name:
        assert by_name["fossa-crop"]["relation"] == "crop of" and by_name["fossa-crop"]["edited"] == "result"
    others = results[len(copies):]
    assert all(r["relation"] is None and r["edited"] is None for r in others)
    # A group query has no one picture to be a copy of.
    assert not any(r["copy"] for r in textureless_project.similar([ids["fossa-original"], ids["sea-original"]]))


def test_similar_copies_through_cli_and_http(textureless_project):
    ids = {Path(p).stem: i for i, p in textureless_project.all_paths()}
    client = TestClient(create_app(textureless_project), base_url="http://127.0.0.1")
    answer = client.post("/api/similar", json={"query": ids["sea-original"], "top_k": 5})
    assert answer.status_code == 200
    assert [r["copy"] for r in answer.json()] == [True] * 5
    assert all(r["relation"] for r in answer.json())
    path = str(textureless_project.path)
    textureless_project.close()
    result = CliRunner().invoke(main, ["similar", path, str(ids["sea-original"]), "--top", "5", "--json"])
    assert result.exit_code == 0, result.output
    items = json.loads(result.output)
    assert all(item["copy"] and item["relation"] for item in items)
    text = CliRunner().invoke(main, ["similar", path, str(ids["sea-original"]), "--top", "3"]).output
    assert text.count("(copy: ") == 3


def test_a_recoloured_screenshot_matches_and_another_screenshot_of_the_same_editor_does_not():
    corpus = corpus_module()
    fonts = corpus.fonts()
    rng = random.Random(0)
    code = sorted(Path(random.__file__).parent.glob("[a-m]*.py"))
    mono = [f for f in fonts if "Mono" in f][0]
    one, other = (corpus._screen(path.read_text(errors="replace"), mono, random.Random(0), 1) for path in code[:2])
    recoloured = corpus.edit(one, "colour", rng, fonts)[0]
    a, b, c = thumbnail_features(one), thumbnail_features(recoloured), thumbnail_features(other)
    assert matching.verify(a, b, lambda: b) is not None
    # The same window, side bar and line numbers, other code: not a copy.
    assert matching.verify(a, c, lambda: c) is None
    assert max(matching.frame_similarity(a, c)) < matching.FRAME_SSIM


# ---- caption bars: trimmed before the frames are compared or one is searched in the other -----------------

def captioned(img: Image.Image, words: str, fill=(0, 0, 0), top: bool = False, share: float = 0.14) -> Image.Image:
    """The picture with a caption bar of `fill` over a band of it, lettered as the benchmark corpus does."""
    out = img.copy()
    draw = ImageDraw.Draw(out)
    w, h = img.size
    bar = int(h * share)
    y0 = 0 if top else h - bar
    draw.rectangle((0, y0, w, y0 + bar), fill=fill)
    font = corpus_module()._fit(draw, words, corpus_module().fonts()[0], w - 40, int(bar * 0.6))
    draw.text((20, y0 + bar // 5), words, fill=(255, 255, 255) if fill != (255, 255, 255) else (0, 0, 0), font=font)
    return out


def test_a_caption_bar_is_trimmed_from_the_box_and_a_picture_or_page_is_not(textureless):
    for name in ("fossa", "sea", "moon"):
        img = textureless[name]["original"]
        # Black and white bars (a bar is told by its grey level: a red one over a picture of its grey is not).
        for fill, top in (((0, 0, 0), False), ((255, 255, 255), True), ((0, 0, 0), True)):
            f = thumbnail_features(captioned(img, "ARCHIVE 1987 NO. 42", fill, top))
            x0, y0, x1, y1 = f.box
            assert abs((y1 - y0) / f.grey.shape[0] - 0.86) < 0.03, (name, fill, f.box)
            assert (y0 > 0) == top, (name, fill, f.box)
        x0, y0, x1, y1 = thumbnail_features(img).box
        assert (y0, y1) == (0, thumbnail_features(img).grey.shape[0]), name
    corpus = corpus_module()
    licence = sorted(p for p in Path("/usr/share/common-licenses").iterdir() if p.is_file())[0]
    page = corpus._page(licence.read_text(errors="replace"), corpus.fonts()[0], random.Random(0), 0)
    f = thumbnail_features(page)
    assert f.box[3] - f.box[1] > 0.8 * f.grey.shape[0], f.box  # the page's margins at most, not its lines


def test_two_different_pictures_under_the_same_caption_do_not_match_and_a_captioned_copy_does(textureless):
    for a, b in MUST_NOT_MATCH:
        for fill in ((0, 0, 0), (255, 255, 255)):
            one, other = (thumbnail_features(captioned(wallpaper(n), "this is fine", fill)) for n in (a, b))
            assert matching.verify(one, other, lambda: other) is None, (a, b, fill)
            assert max(matching.crop_signal(one, other)[0], *matching.frame_similarity(one, other)) \
                < min(matching.CROP_SSIM, matching.FRAME_SSIM), (a, b, fill)
    for name in ("fossa", "sea", "kleiber", "stripes", "moon"):
        original = thumbnail_features(textureless[name]["original"])
        copy = thumbnail_features(captioned(textureless[name]["original"], "do not distribute", (200, 20, 20)))
        assert matching.verify(original, copy, lambda: copy) is not None, name


def test_a_crop_between_two_scales_of_the_search_is_found_where_it_was_cut(textureless):
    # Widths halfway between two scales of the grid, where a search on the grid alone is 5% off in scale
    # (the moon's craters, few and small, agree less: 0.77 to 0.96).
    grid = matching.CROP_SCALES
    shares = [float(np.sqrt(a * b)) for a, b in zip(grid, grid[1:]) if 0.45 <= a and b <= 0.92]
    for name in ("fossa", "sea", "stripes"):
        img = textureless[name]["original"]
        w, h = img.size
        for share in shares:
            box = (int(w * (1 - share) / 2), int(h * (1 - share) / 3), 0, 0)
            box = (*box[:2], box[0] + int(w * share), box[1] + int(h * share))
            inner, outer = thumbnail_features(img.crop(box)), thumbnail_features(img)
            similarity, transform = matching.crop_similarity(inner, outer)
            assert similarity >= matching.CROP_SSIM, (name, share, similarity)
            corners = np.array([[0, 0, 1], [inner.size[0], inner.size[1], 1]], float).T
            found = (transform @ corners)[:2].T / (np.array(outer.size) / np.array(img.size))
            assert np.abs(found - np.array([box[:2], box[2:]])).max() < 0.035 * w, (name, share, found, box)


def with_colours_of(img: Image.Image, other: Image.Image) -> Image.Image:
    """A picture with img's light and dark (CIELAB L) and other's colours (a and b, laid over it)."""
    lab = np.asarray(img.convert("LAB")).copy()
    lab[..., 1:] = np.asarray(other.convert("RGB").resize(img.size).convert("LAB"))[..., 1:]
    return Image.fromarray(lab, "LAB").convert("RGB")


def test_a_crop_is_refused_where_the_light_and_dark_agree_but_the_colours_do_not(textureless):
    # Two smooth pictures whose grey levels fall alike (a gradient inside another's sky): here a painting's
    # or a gradient's light and dark in the colours of a photograph (of a bird, of a sunset).
    for name, other in (("stripes", "kleiber"), ("fossa", "sunset")):
        img = textureless[name]["original"]
        w, h = img.size
        crop = thumbnail_features(img.crop((w // 5, h // 4, w // 5 + int(w * 0.55), h // 4 + int(h * 0.55))))
        original = thumbnail_features(img)
        recoloured = thumbnail_features(with_colours_of(img, wallpaper(other)))
        assert matching.verify(original, crop, lambda: crop).relation == "crop of", name
        similarity, transform = matching.crop_signal(recoloured, crop)
        assert similarity >= matching.CROP_SSIM, (name, similarity)   # the grey levels alone would take it
        assert matching.colour_gap(recoloured, crop, transform) > matching.COLOUR_GAP, name
        assert matching.verify(recoloured, crop, lambda: crop) is None, (name, other)
        # A greyscale copy has no colours to compare: the crop is still found in it.
        grey = thumbnail_features(ImageOps.grayscale(img))
        assert matching.verify(grey, crop, lambda: crop) is not None, name


# ---- crops far from their original in every embedding: the crop-window candidates -------------------------
# All of lomiri-wallpapers' pictures (photographs, paintings, gradients), and 45% crops of four of them cut
# where the crop moves its EfficientNet embedding furthest (a cosine of 0.36 to 0.50 to its original: below
# what the nearest-neighbour candidates reach) and of the pictures of the pairs that must not match.

FAR_CROPS = {"Kleiber_by_Lukas_Baubkus": (0.5, 0.1), "friends_by_Aitzol_Berasategi": (0.05, 0.5),
             "Dragonfly_by_Bolly": (0.5, 0.1), "greentock_by_Peter_Nerlich": (0.05, 0.5)}
# Pairs of different pictures: two paintings of one series of purple Ubuntu gradients, two sunsets (a painted
# one and a photograph), one artist's two pictures; the first of each is cropped to 45% at these corners.
NOT_COPIES = [("Fossa_by_Jasper_Roks", "lomiri-default-background"),
              ("Infinite-Sea_by_Aury88", "sunset_by_Aitzol_Berasategi"),
              ("Picture_0B_by_freespace", "Picture_1A_by_freespace")]
CORNERS = ((0.0, 0.0), (0.55, 0.55), (0.3, 0.25))
SHIPPED_TWICE = {"warty-final-ubuntu": "lomiri-default-background"}   # one picture under two names


def crop_of(img: Image.Image, corner: tuple[float, float], share: float = 0.45) -> Image.Image:
    w, h = img.size
    x, y = int(w * corner[0]), int(h * corner[1])
    return img.crop((x, y, x + int(w * share), y + int(h * share)))


def lomiri_wallpapers() -> dict[str, Image.Image]:
    paths = sorted(p for p in WALLPAPERS.iterdir() if p.suffix in (".jpg", ".png"))
    assert len(paths) >= 20, "apt-get install lomiri-wallpapers"
    pictures = {}
    for path in paths:
        img = Image.open(path).convert("RGB")
        img.thumbnail((1024, 1024))
        pictures[path.stem] = img
    return pictures


@pytest.fixture(scope="module")
def far_crops_template(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("far-crops")
    for name, img in lomiri_wallpapers().items():
        img.save(folder / f"{name}.jpg", quality=90)
        if name in FAR_CROPS:
            crop_of(img, FAR_CROPS[name]).save(folder / f"{name}-crop.jpg", quality=90)
        if name in dict(NOT_COPIES):
            for i, corner in enumerate(CORNERS):
                crop_of(img, corner).save(folder / f"{name}-crop{i}.jpg", quality=90)
    return embedded_template(folder, tmp_path_factory.mktemp("far-crops-project") / "far-crops.imagier")


@pytest.fixture
def far_crops(far_crops_template, tmp_path):
    with open_copy(far_crops_template, tmp_path / "far-crops.imagier") as p:
        yield p


def contents_named(project) -> dict[str, int]:
    files_of = project.images.file_ids_of_contents(project.vectors.matrix("efficientnet-lite0").content_ids.tolist())
    return {Path(project.file(files[0])["path"]).stem: c for c, files in files_of.items()}


def test_a_45_percent_crop_far_from_its_original_in_the_embedding_is_a_candidate_and_grouped(far_crops):
    contents = contents_named(far_crops)
    matrix = far_crops.vectors.matrix("efficientnet-lite0")
    ids = matrix.content_ids
    neighbour_pairs = far_crops.duplicate_finder._neighbour_candidates(  # the embedding's and the pHash's
        matrix, ids, duplicates_module.NEIGHBOURS, duplicates_module.MIN_SIMILARITY["cosine"],
        duplicates_module.CLOSEST_SIMILARITY["cosine"])
    window_pairs = duplicates_module.crop_windows.crop_pairs(ids, far_crops.images.thumbnails_of)
    for name in FAR_CROPS:
        pair = tuple(sorted((contents[name], contents[f"{name}-crop"])))
        assert pair not in neighbour_pairs, name   # what this signal is for: the neighbours do not reach it
        assert pair in window_pairs, name
    # At most two pairs per picture: with the picture it looks most like a crop of, and with the picture
    # that looks most like a crop of it.
    assert len(window_pairs) <= 2 * len(ids)
    groups = far_crops.duplicates()
    names, sets = named(far_crops, groups)
    relations = {(names[p["a"]], names[p["b"]]): p["relation"] for g in groups for p in g["pairs"]}
    for name in FAR_CROPS:
        assert {name, f"{name}-crop"} in sets, (name, [s for s in sets if name in s])
        assert relations[f"{name}-crop", name] == "crop of"


def test_crops_of_pictures_that_look_alike_are_not_grouped_with_the_other_picture(far_crops):
    groups = far_crops.duplicates()
    names, sets = named(far_crops, groups)
    for group in sets:
        pictures = {SHIPPED_TWICE.get(n.split("-crop")[0], n.split("-crop")[0]) for n in group}
        assert len(pictures) == 1, group
    # Nor when the two are checked directly: a 45% crop of one is not found in the other.
    for one, other in NOT_COPIES:
        original = thumbnail_features(wallpaper_named(other))
        for corner in CORNERS:
            crop = thumbnail_features(crop_of(wallpaper_named(one), corner))
            assert matching.verify(original, crop, lambda: crop) is None, (one, other, corner)


def test_queries_of_another_set_find_their_rows_in_the_inverted_index_as_in_the_exact_search():
    # The crop windows' search: many queries (windows) against the rows of the whole pictures' layouts.
    # Rows that all point roughly one way, as layouts and embeddings do; queries near some of them.
    rng = np.random.default_rng(1)
    rows = np.abs(rng.standard_normal((6000, 48))).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    planted = rng.choice(len(rows), size=300, replace=False)
    queries = rows[planted] + 0.05 * rng.standard_normal((300, 48)).astype(np.float32)
    exact_scores, exact_rows = index_module.NearestRows(rows, exact_up_to=10_000).search(queries, 3)
    scores, found = index_module.NearestRows(rows, exact_up_to=1000).search(queries, 3)
    assert (exact_rows[:, 0] == planted).all()
    assert (found[:, 0] == planted).mean() >= 0.95
    hit = found[:, 0] == planted
    assert np.allclose(scores[hit, 0], exact_scores[hit, 0], atol=1e-5)  # the kept scores are the exact ones


def wallpaper_named(stem: str) -> Image.Image:
    return lomiri_wallpapers_cache()[stem]


_WALLPAPERS: dict[str, Image.Image] = {}


def lomiri_wallpapers_cache() -> dict[str, Image.Image]:
    if not _WALLPAPERS:
        _WALLPAPERS.update(lomiri_wallpapers())
    return _WALLPAPERS


# ---- pages and screens of text: a crop of one is found in it, not in another page --------------------------

def text_pictures() -> dict[str, Image.Image]:
    """Two pages of licences and two screens of code, rendered as the benchmark corpus renders them."""
    corpus = corpus_module()
    fonts = corpus.fonts()
    serif = [f for f in fonts if "Serif" in f and "Bold" not in f][0]
    mono = [f for f in fonts if "Mono" in f and "Bold" not in f][0]
    licences = sorted(p for p in Path("/usr/share/common-licenses").iterdir() if p.is_file())
    code = sorted(Path(random.__file__).parent.glob("[a-m]*.py"))
    return {"page": corpus._page(licences[1].read_text(errors="replace"), serif, random.Random(1), 2),
            "other page": corpus._page(licences[3].read_text(errors="replace"), serif, random.Random(1), 4),
            "screen": corpus._screen(code[2].read_text(errors="replace"), mono, random.Random(1), 3),
            "other screen": corpus._screen(code[5].read_text(errors="replace"), mono, random.Random(1), 5)}


def test_a_crop_of_a_screen_whose_lines_end_early_is_found_in_it_and_not_in_another_screen_or_page():
    pictures = text_pictures()
    features = {name: thumbnail_features(img) for name, img in pictures.items()}
    img = pictures["screen"]
    w, h = img.size
    # Crops whose lines of code all end before their right edge: their boxes are trimmed of that blank
    # side like a border, so the piece is a smaller share of the original's box than the crop is of it.
    for x, y, share in ((0.4, 0.1, 0.5), (0.45, 0.3, 0.5)):
        crop = thumbnail_features(img.crop((int(w * x), int(h * y), int(w * (x + share)), int(h * (y + share)))))
        similarity, _ = matching.crop_similarity(crop, features["screen"])
        assert similarity >= matching.CROP_SSIM, (x, y, similarity)
        assert matching.verify(features["screen"], crop, lambda: crop).relation == "crop of", (x, y)
        assert matching._trimmed_width(crop) < 0.85 * matching._trimmed_width(features["screen"]), crop.box
        for other in ("other screen", "page", "other page"):
            assert matching.verify(features[other], crop, lambda: crop) is None, (other, x, y)
    # Nor is a crop of a page taken for a part of another page.
    page = pictures["page"]
    crop = thumbnail_features(page.crop((int(page.width * 0.3), int(page.height * 0.35),
                                         int(page.width * 0.85), int(page.height * 0.9))))
    assert matching.verify(features["other page"], crop, lambda: crop) is None


def test_a_crop_of_a_page_starting_mid_text_keeps_its_first_lines_in_its_box():
    img = text_pictures()["page"]
    w, h = img.size
    for x, y in ((0.4, 0.42), (0.3, 0.46)):   # where a line of text, then a blank row, looked like a caption's edge
        crop = thumbnail_features(img.crop((int(w * x), int(h * y), int(w * (x + 0.55)), int(h * (y + 0.55)))))
        assert crop.box[1] < 0.04 * crop.grey.shape[0], (x, y, crop.box)   # no caption bar trimmed off its top


# ---- plain pictures (a gradient, a corner of one): their shading compared as it is ------------------------

def test_a_gradient_and_its_corner_match_by_their_shading_and_another_gradient_does_not():
    purple = wallpaper("purple")   # lomiri-default-background: a purple gradient with faint facets
    w, h = purple.size
    original = thumbnail_features(purple)
    corner = thumbnail_features(purple.crop((0, 0, int(w * 0.6), int(h * 0.6))))
    match = matching.verify(original, corner, lambda: corner)
    assert match is not None and match.relation == "crop of" and match.swapped, match
    # Too plain for the structural crop signal: found by its shading.
    assert matching._plain(original.frame)
    assert matching.crop_signal(original, corner)[0] < matching.CROP_SSIM
    rng = random.Random("test-purple")
    fonts = corpus_module().fonts()
    for edit in ("caption", "text", "border", "rotate"):
        copy = thumbnail_features(corpus_module().edit(purple, edit, rng, fonts)[0])
        assert matching.verify(original, copy, lambda: copy) is not None, edit
    # Another picture of the same series of purple Ubuntu gradients, whole or its corner, is not a copy.
    fossa = wallpaper("fossa")
    for other in (fossa, fossa.crop((0, 0, int(fossa.width * 0.6), int(fossa.height * 0.6)))):
        f = thumbnail_features(other)
        assert matching.verify(original, f, lambda: f) is None
        assert matching.smooth_signal(original, f)[0] < matching.SMOOTH_AGREEMENT


def test_two_tiles_of_one_gradient_and_a_mirrored_plain_picture_are_not_taken_for_copies_by_their_shading():
    purple = wallpaper("purple")
    w, h = purple.size
    left, right = (thumbnail_features(purple.crop((x, 0, x + int(w * 0.45), int(h * 0.6)))) for x in (0, int(w * 0.55)))
    assert matching.verify(left, right, lambda: right) is None
    assert matching.smooth_signal(left, right)[0] < matching.SMOOTH_AGREEMENT
    # A dark sky with a moon: most of it is one plain level, alike in the picture and its mirror; that
    # part is not evidence, so the shading alone does not take the mirror for the picture as it is.
    moon = Image.open("/usr/share/desktop-base/moonlight-theme/grub/grub-16x9.png").convert("RGB")
    moon.thumbnail((1024, 1024))
    a, b = thumbnail_features(moon), thumbnail_features(ImageOps.mirror(moon))
    agreement, relation = matching.smooth_signal(a, b)
    assert relation == ("mirrored", True) or agreement < matching.SMOOTH_AGREEMENT
    assert matching.smooth_agreement(a.frame, b.frame) < matching.SMOOTH_AGREEMENT


# ---- a crop cut through a meme's caption bar ---------------------------------------------------------------

def meme_with_bar(path: str, words: str) -> Image.Image:
    """A meme as the benchmark corpus makes one: the photograph under a white caption bar."""
    img = Image.open(path).convert("RGB")
    img.thumbnail((1024, 1024))
    corpus = corpus_module()
    w, h = img.size
    bar = h // 5
    out = Image.new("RGB", (w, h + bar), "white")
    out.paste(img, (0, bar))
    draw = ImageDraw.Draw(out)
    draw.text((20, bar // 4), words, fill="black", font=corpus._fit(draw, words, corpus.fonts()[0], w - 40, bar // 2))
    return out


def test_a_crop_cut_through_a_caption_bar_is_trimmed_of_its_rest_and_found_in_its_meme():
    meme = meme_with_bar("/usr/share/backgrounds/mate/nature/Blinds.jpg", "property of the museum")
    other = meme_with_bar("/usr/share/backgrounds/mate/nature/GreenMeadow.jpg", "property of the museum")
    w, h = meme.size
    bar = (h * 5 // 6) // 5
    # From the middle of the lettering down: the bar's rest, its letters cut in half, over the picture.
    crop = meme.crop((int(w * 0.05), bar // 2, int(w * 0.8), bar // 2 + int(h * 0.7)))
    f = thumbnail_features(crop)
    rest = (bar - bar // 2) / crop.height
    assert abs(f.box[1] / f.grey.shape[0] - rest) < 0.03, (f.box, rest)
    original, another = thumbnail_features(meme), thumbnail_features(other)
    match = matching.verify(original, f, lambda: f)
    assert match is not None and match.relation == "crop of", match
    # The same caption over another photograph of leaves is not the same picture.
    assert matching.verify(another, f, lambda: f) is None
