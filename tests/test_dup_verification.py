"""The verification stage of near-duplicates at scale: the order its pairs are checked in, so that each
picture's features are computed about once however many pictures the project holds, and the cache of
features, sized in bytes, that holds them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

import imagier
from conftest import open_copy, sample_pixels
from imagier.analysis import duplicates as duplicates_module
from imagier.analysis import matching

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle_left")
PICTURES = len(PHOTOS) * 6   # each photograph and its five copies


def copies(img: Image.Image) -> dict[str, Image.Image]:
    w, h = img.size
    return {"original": img, "crop": img.crop((w // 8, h // 6, w // 8 + int(w * 0.7), h // 6 + int(h * 0.7))),
            "mirror": ImageOps.mirror(img), "grey": ImageOps.grayscale(img).convert("RGB"),
            "resize": img.resize((w // 3, h // 3), Image.Resampling.LANCZOS),
            "border": ImageOps.expand(img, w // 10, "black")}


@pytest.fixture(scope="module")
def interleaved_template(tmp_path_factory) -> Path:
    """Five photographs with five copies each, named so that the import numbers them copy by copy
    (each family's content ids are far apart, as in a real collection)."""
    folder = tmp_path_factory.mktemp("interleaved")
    for name in PHOTOS:
        for i, (edit, copy) in enumerate(copies(Image.fromarray(sample_pixels(name)).convert("RGB")).items()):
            copy.save(folder / f"{i}-{name}-{edit}.jpg", quality=90)
    path = tmp_path_factory.mktemp("interleaved-project") / "interleaved.imagier"
    with imagier.open(path) as p:
        p.import_folders([folder])
        p.embed("efficientnet-lite0")
        p.embed("phash")
    return path


def test_pairs_are_checked_family_by_family_whatever_their_ids():
    # Three families whose ids interleave (1, 4, 7 / 2, 5, 8 / 3, 6, 9), each linked to all its members.
    families = [[1, 4, 7], [2, 5, 8], [3, 6, 9]]
    pairs = sorted((a, b) for f in families for i, a in enumerate(f) for b in f[i + 1:])
    order = duplicates_module._cache_friendly(pairs)
    assert sorted(order) == pairs
    family_of = {c: i for i, f in enumerate(families) for c in f}
    runs = [family_of[a] for a, _ in order]
    assert runs == sorted(runs, key=runs.index), f"a family's pairs are split: {order}"


def test_each_picture_is_prepared_about_once_when_the_cache_holds_two_families(interleaved_template, tmp_path,
                                                                        monkeypatch):
    with open_copy(interleaved_template, tmp_path / "p.imagier") as p:
        expected = p.duplicates()
    prepared = []
    real_features = matching.features

    def counted(*args, **kwargs):
        prepared.append(kwargs.get("mirror", False))
        return real_features(*args, **kwargs)
    # A cache of two families' pictures, far fewer than the project's 30.
    monkeypatch.setattr(duplicates_module, "FEATURE_CACHE_BYTES", 2 * PICTURES // len(PHOTOS) * picture_bytes())
    monkeypatch.setattr(matching, "features", counted)
    events = []
    with open_copy(interleaved_template, tmp_path / "q.imagier") as p:
        found = p.duplicates(progress=events.append)
    assert [g["ids"] for g in found] == [g["ids"] for g in expected]
    # Each picture about once, and at most once mirrored: the crop windows pair each picture with the
    # picture it looks most like a crop of, often in another family, so a few pictures leave the cache
    # before their last pair. Checked in the order of their ids, the same project computes them 106
    # times (91 + 15 mirrored); in a depth-first walk 57 (44 + 13); in this breadth-first one 44 (32 + 12).
    plain, mirrored = prepared.count(False), prepared.count(True)
    assert plain <= 1.25 * PICTURES and mirrored <= PICTURES, f"{plain} + {mirrored} mirrored for {PICTURES} pictures"
    assert events[-1]["prepared"] == len(prepared)



def picture_bytes() -> int:
    """The bytes one of the test's photographs' features take in the cache."""
    return duplicates_module._size(duplicates_module._compact(matching.features(photo("astronaut"))))


def photo(name: str) -> Image.Image:
    return Image.fromarray(sample_pixels(name)).convert("RGB")


@pytest.mark.parametrize("mirror", [False, True])
def test_the_cache_gives_back_the_features_computed_in_fewer_bytes(mirror):
    computed = matching.features(photo("chelsea").resize((256, 171)), (451, 300), mirror=mirror)
    kept = duplicates_module._compact(computed)
    # The two frames are 8-bit grey levels held as float32: kept as uint8, a quarter of their bytes.
    assert kept.frame.dtype == kept.whole.dtype == np.uint8
    saved = duplicates_module._size(computed) - duplicates_module._size(kept)
    assert saved == 2 * 3 * matching.FRAME ** 2
    given = duplicates_module._expanded(kept)
    for field in vars(computed):
        ours, theirs = getattr(given, field), getattr(computed, field)
        if isinstance(theirs, np.ndarray):
            assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs), field
        else:
            assert ours == theirs, field


def test_frames_that_are_not_eight_bit_are_kept_as_they_are():
    computed = matching.features(photo("coffee"))
    computed.frame = computed.frame + np.float32(0.5)
    kept = duplicates_module._compact(computed)
    assert kept.frame.dtype == np.float32 and np.array_equal(kept.frame, computed.frame)
    assert kept.whole.dtype == np.uint8


def test_the_cache_holds_as_many_pictures_as_its_bytes_allow(interleaved_template, tmp_path, monkeypatch):
    with open_copy(interleaved_template, tmp_path / "p.imagier") as p:
        contents = sorted(p.images.content_ids_of_files([i for i, _ in p.all_paths()]))
        files_of = p.images.file_ids_of_contents(contents)
        checker = duplicates_module._PairChecker(p.images, {}, contents, files_of)
        # What each picture's features take with their two frames in 8 bits rather than float32.
        eight_bit_frames = 2 * 3 * matching.FRAME ** 2
        sizes = {c: duplicates_module._size(checker.features_of(c)) - eight_bit_frames for c in contents}
        held = 12
        budget = sum(sizes[c] for c in contents[-held:])
        monkeypatch.setattr(duplicates_module, "FEATURE_CACHE_BYTES", budget)
        checker = duplicates_module._PairChecker(p.images, {}, contents, files_of)
        for c in contents:
            checker.features_of(c)
        assert checker.cached_bytes <= budget
        assert checker.prepared == len(contents)
        # The last `held` pictures are all still there: asked again, none is computed again (with its
        # frames in float32, the same bytes hold fewer of them, and asked in turn each is computed again).
        for c in contents[-held:]:
            checker.features_of(c)
        assert checker.prepared == len(contents)
        checker.features_of(contents[0])
        assert checker.prepared == len(contents) + 1


# ---- the candidate stage: pHash neighbours that the embedding finds unlike ---------------------------

# Debian's gnome-backgrounds and mate-backgrounds: patterns, paintings and gradients.
WALLPAPERS = [*(f"/usr/share/backgrounds/gnome/{name}-l.webp" for name in ("adwaita", "grid", "licorice", "pixels",
                                                                              "truchet", "wood")),
              *(f"/usr/share/backgrounds/mate/abstract/{name}.png" for name in ("Flow", "Gulp", "Silk", "Spring", "Waves"))]
TILE = (68, 51)


@pytest.fixture(scope="module")
def tiles_and_photos_template(tmp_path_factory) -> Path:
    """Small tiles of wallpapers (pictures with a similar spread of light, which pHash finds near) and
    scikit-image's photographs with a greyscale and a recompressed copy each."""
    missing = [path for path in WALLPAPERS if not Path(path).exists()]
    assert not missing, f"{missing} missing: apt-get install gnome-backgrounds mate-backgrounds"
    folder = tmp_path_factory.mktemp("tiles")
    for path in WALLPAPERS:
        wallpaper = Image.open(path).convert("RGB")
        wallpaper.thumbnail((1600, 1600))
        for x in range(0, wallpaper.width - TILE[0] * 4, wallpaper.width // 6):
            for y in (wallpaper.height // 4, wallpaper.height // 2):
                wallpaper.crop((x, y, x + TILE[0] * 4, y + TILE[1] * 4)).resize(TILE).save(
                    folder / f"{Path(path).stem}-{x}-{y}.jpg", quality=90)
    for name in ("astronaut", "camera", "chelsea", "coffee", "coins", "moon", "rocket", "retina"):
        img = Image.fromarray(sample_pixels(name)).convert("RGB")
        img.save(folder / f"{name}.jpg", quality=90)
        ImageOps.grayscale(img).save(folder / f"{name}-grey.jpg", quality=90)
        img.save(folder / f"{name}-jpeg.jpg", quality=15)
    path = tmp_path_factory.mktemp("tiles-project") / "tiles.imagier"
    with imagier.open(path) as p:
        p.import_folders([folder])
        p.embed("efficientnet-lite0")
        p.embed("phash")
    return path


def test_phash_neighbours_the_embedding_finds_unlike_are_not_verified(tiles_and_photos_template, tmp_path):
    with open_copy(tiles_and_photos_template, tmp_path / "p.imagier") as p:
        finder = p.duplicate_finder
        matrix, hashes = p.vectors.matrix("efficientnet-lite0"), p.vectors.matrix("phash")
        contents = matrix.content_ids
        k, threshold = duplicates_module.NEIGHBOURS, duplicates_module.MIN_SIMILARITY
        embedding = (duplicates_module._neighbour_pairs(matrix, contents, k, threshold["cosine"])
                     | duplicates_module._neighbour_pairs(matrix, contents, duplicates_module.CLOSEST,
                                                          duplicates_module.CLOSEST_SIMILARITY["cosine"]))
        by_hash = duplicates_module._neighbour_pairs(hashes, contents, k, threshold["hamming"]) - embedding
        candidates = finder._neighbour_candidates(matrix, contents, k, threshold["cosine"],
                                                  duplicates_module.CLOSEST_SIMILARITY["cosine"])
        names = {c: Path(p.file(fs[0])["path"]).stem for c, fs in p.images.file_ids_of_contents(contents.tolist()).items()}
        groups = [{names[c] for c in p.images.content_ids_of_files(g["ids"])} for g in p.duplicates()]
    a, b = (np.array(side) for side in zip(*sorted(by_hash)))
    cosines = dict(zip(sorted(by_hash), duplicates_module._pair_similarities(matrix, a, b)))
    bits = dict(zip(sorted(by_hash), duplicates_module._pair_similarities(hashes, a, b)))
    unlike = {pair for pair in by_hash
              if cosines[pair] < duplicates_module.PHASH_COSINE and bits[pair] < duplicates_module.PHASH_ALONE}
    # The pictures of this project that only pHash finds near include pairs the embedding finds unlike:
    # those are left out, and every other pHash neighbour is still a candidate.
    assert unlike, "no pHash neighbour that the embedding finds unlike: the test shows nothing"
    assert not unlike & candidates
    assert by_hash - unlike <= candidates
    # Each photograph is still grouped with its copies.
    for name in ("astronaut", "camera", "chelsea", "coffee", "coins", "moon", "rocket", "retina"):
        assert {name, f"{name}-grey", f"{name}-jpeg"} in groups or any({name, f"{name}-grey", f"{name}-jpeg"} <= g
                                                                       for g in groups), name
