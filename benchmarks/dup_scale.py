"""The cost of `duplicates()` at 10,000 and 100,000 images, on real thumbnails and real vectors.

    nice python benchmarks/dup_scale.py [--sizes 10000 30000 100000] [--build-only]
    (or bench_duplicates.py --scale 10000,100000, which adds the table to RESULTS.md)

The project (built once under benchmarks/out/dup_scale/, resumed chunk by chunk) holds, in chunks of
CHUNK_FILES files:
- first, the near-duplicate corpus of seed 0 (dup_corpus.py: 117 real pictures, each with ten edited
  copies): the copies planned, whose share is known;
- then tiles of the installed wallpapers (and ukui-wallpapers', when unpacked: see UKUI) and scikit-image's
  photographs at their full resolution (up to SOURCE_SIDE, every other large one at 0.9 of it), cut
  side by side so that no two tiles overlap, each place once, as it is and in negative, nearly plain
  tiles left out, in a seeded order. A tile is a few percent of its wallpaper's width, far below the
  smallest crop the verification looks for (40%), and a negative is another picture to it (its grey
  levels run the other way); no tile is turned, mirrored or cut again at another scale, which the
  verification rightly takes for copies. So every pair the verification joins outside the corpus's
  families is a pair of different pictures: `joined_pairs` sorts the pairs found by what their files
  are.
Each chunk is written as JPEG files, imported by `import_folders` (so the thumbnails are the real ones)
and embedded with the real EfficientNet-Lite0 and pHash, then the next.

A size N is the first N / CHUNK_FILES chunks, selected by a filter on the path, so that the candidate stage
and the verification see only them; every pair is verified afresh (a new project object per size).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import sys
import time
from pathlib import Path

from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import dup_corpus  # noqa: E402
import imagier  # noqa: E402
from common import HERE  # noqa: E402

OUT = HERE / "out" / "dup_scale"
PROJECT = OUT / "scale.imagier"
CHUNKS = OUT / "chunks.json"
DESIGN = OUT / "design.json"
CHUNK_FILES = 5_000
SEED = 0
SOURCE_SIDE = 3840
# 68 x 51: the sources hold about 110,000 such places that are not nearly plain, as they are and in
# negative (at 160 x 120, about 25,000; at 80 x 60, 38.5% of 224,752 planned tiles kept: 86,500).
TILE = (68, 51)
VARIANTS = {"as-is": False, "negative": True}
# More wallpapers, of a package that is unpacked here and not installed (installed, its pictures would
# join /usr/share/backgrounds, which the corpus of dup_corpus.py reads):
#   apt-get download ukui-wallpapers && dpkg-deb -x ukui-wallpapers_*.deb benchmarks/out/ukui-wallpapers
UKUI = HERE / "out" / "ukui-wallpapers" / "usr" / "share" / "backgrounds"
SCALES = (1.0, 0.9)     # tiles of every other large source are cut at 0.9 of its resolution
SIZES = (10_000, 30_000, 100_000)
DESCRIPTION = (
    "Time per image at scale (`bench_duplicates.py --scale`, benchmarks/dup_scale.py): `duplicates()` on the "
    "first N files of a project of real thumbnails and their real EfficientNet-Lite0 and pHash vectors: the "
    "seed-0 corpus (1,287 files, 117 families of copies) and 68 x 51 tiles of the wallpapers and scikit-image's "
    "photographs, cut side by side, each place once, as it is and in negative (pictures of their own: the "
    "pairs the verification joins among them are pairs of different pictures), nearly plain ones left out; "
    "two threads; every pair verified afresh. "
    "The candidate search is the k nearest neighbours and the similarity prefilter; the verification time is "
    "extrapolated from the progress events after the first 256 pairs; features computed per image counts the "
    "thumbnails decoded and turned into keypoints and frames (once, and once mirrored, is the least); CPU is "
    "the process's, both threads.")


def _tiles_of(image: Image.Image, scale: float) -> list[tuple[int, int, int, int]]:
    """The boxes of the side-by-side tiles of `image` at `scale` (in its own pixels)."""
    w, h = round(TILE[0] / scale), round(TILE[1] / scale)
    return [(x, y, x + w, y + h) for y in range(0, image.height - h + 1, h) for x in range(0, image.width - w + 1, w)]


def filler_plan(sources: list[dup_corpus.Source]) -> list[tuple[int, str, tuple]]:
    """Every distinct tile as (source index, variant, box), in a seeded order that mixes the sources."""
    plan = [(i, variant, box) for i, s in enumerate(sources) for variant in VARIANTS
            for box in _tiles_of(s.image, SCALES[i % 2] if max(s.image.size) > 1500 else 1.0)]
    random.Random(SEED).shuffle(plan)
    return plan


def filler(source: dup_corpus.Source, variant: str, box: tuple) -> Image.Image | None:
    """One tile at TILE's size, perhaps in negative; None when it is nearly plain."""
    tile = source.image.crop(box).resize(TILE, Image.Resampling.BILINEAR)
    if VARIANTS[variant]:
        tile = ImageOps.invert(tile)
    return None if dup_corpus.plain(tile) else tile


def more_wallpapers() -> list[dup_corpus.Source]:
    """The wallpapers of a package the corpus does not use (ukui-wallpapers), when unpacked (UKUI)."""
    paths = sorted(p for p in UKUI.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    return [dup_corpus.Source(f"ukui-{p.stem}", "photo", dup_corpus._load(p)) for p in paths]


def full_resolution_sources() -> list[dup_corpus.Source]:
    """The wallpapers and scikit-image photographs, up to SOURCE_SIDE, twins and plain ones left out."""
    corpus_side, dup_corpus.SOURCE_SIDE = dup_corpus.SOURCE_SIDE, SOURCE_SIDE
    try:
        sources, _ = dup_corpus.distinct_sources(dup_corpus.skimage_photos() + dup_corpus.wallpapers()
                                                        + more_wallpapers())
    finally:
        dup_corpus.SOURCE_SIDE = corpus_side  # the corpus itself stays the one bench_duplicates.py scores
    return sources


def build(n: int) -> list[dict]:
    """The project of the first n files (built once, resumed chunk by chunk): [{"folder", "files"}]."""
    OUT.mkdir(parents=True, exist_ok=True)
    design = {"tile": list(TILE), "variants": list(VARIANTS), "chunk_files": CHUNK_FILES, "seed": SEED}
    built = json.loads(DESIGN.read_text()) if DESIGN.exists() else design
    if {k: built.get(k) for k in design} != design:
        raise SystemExit(f"{OUT} holds a project of another design ({built}): move it away first")
    design = {**built, **design}
    DESIGN.write_text(json.dumps(design))
    chunks = json.loads(CHUNKS.read_text()) if CHUNKS.exists() else []
    if chunks and chunks[-1]["files"] >= n:
        return chunks
    sources = full_resolution_sources()
    # The plan's order depends on every source: a resumed build needs the same ones (ukui-wallpapers
    # unpacked, the same packages installed).
    names = sorted(s.name for s in sources)
    if chunks and design.get("sources", names) != names:
        raise SystemExit(f"the sources differ from those {OUT} was built from: {sorted(set(names) ^ set(design['sources']))}")
    DESIGN.write_text(json.dumps({**design, "sources": names}))
    plan = filler_plan(sources)
    print(f"{len(sources)} sources, {len(plan):,} tiles planned", flush=True)
    used = sum(c["tiles_tried"] for c in chunks)
    with imagier.open(PROJECT) as project:
        while not chunks or chunks[-1]["files"] < n:
            if used >= len(plan):
                print(f"no more distinct tiles: the project stops at {chunks[-1]['files']:,} files")
                break
            start = time.perf_counter()
            folder = OUT / "files" / f"chunk-{len(chunks):03d}"
            shutil.rmtree(folder, ignore_errors=True)
            count = 0
            if not chunks:
                truth, _ = dup_corpus.build(folder / "corpus", SEED)
                (OUT / "truth.json").write_text(json.dumps(truth))
                count = len(truth)
            folder.mkdir(parents=True, exist_ok=True)
            tried = 0
            while count < CHUNK_FILES and used < len(plan):
                i, variant, box = plan[used]
                used += 1
                tile = filler(sources[i], variant, box)
                if tile is not None:
                    tile.save(folder / f"{sources[i].name}-{variant}-{box[0]}-{box[1]}.jpg", quality=90)
                    count += 1
                tried += 1
            written = time.perf_counter()
            project.import_folders([folder])
            imported = time.perf_counter()
            project.embed("efficientnet-lite0")
            project.embed("phash")
            chunks.append({"folder": str(folder), "files": project.file_count(), "tiles_tried": tried,
                           "seconds": {"write": written - start, "import": imported - written,
                                       "embed": time.perf_counter() - imported}})
            CHUNKS.write_text(json.dumps(chunks, indent=1))
            print(f"chunk {len(chunks) - 1}: {chunks[-1]['files']:,} files, {chunks[-1]['seconds']}", flush=True)
    return chunks



def selection(chunks: list[dict], n: int) -> tuple[dict, int]:
    """The filter that selects the first chunks up to n files (a chunk whose build was interrupted is
    left out), and their files."""
    taken = [c for c in chunks if c["files"] <= n] or chunks[:1]
    return {"or": [{"property": "path", "op": "startswith", "value": c["folder"] + os.sep} for c in taken]}, \
        taken[-1]["files"]


def timed(chunks: list[dict], n: int, workers: int = 2) -> dict:
    """duplicates() on the first n files, every pair verified afresh: the candidate stage, the
    verification, and what they found."""
    chosen, files = selection(chunks, n)
    marks = {}

    def progress(event):
        if event["stage"] == "verify":
            marks.setdefault("first", (time.perf_counter(), event["done"]))
            marks.update(pairs=event["total"], prepared=event.get("prepared"))
    with imagier.open(PROJECT) as project:
        cpu, start = time.process_time(), time.perf_counter()
        groups = project.duplicates(filter=chosen, workers=workers, progress=progress)
        end, cpu = time.perf_counter(), time.process_time() - cpu
        paths = dict(project.all_paths())
    # The first event comes after the first chunk of pairs: the verification's time is extrapolated
    # from the rest (at 10,000 images the first chunk is under 1% of the pairs).
    first, done = marks.get("first", (end, 0))
    pairs = marks.get("pairs", 0)
    verify = (end - first) * pairs / (pairs - done) if pairs > done else 0.0
    return {"files": files, "candidates_s": end - start - verify, "verify_s": verify,
            "total_s": end - start, "cpu_s": cpu, "pairs": pairs, "prepared": marks.get("prepared"),
            "groups": len(groups),
            "grouped": sum(len(g["ids"]) for g in groups), "joined": joined_pairs(groups, paths),
            "load": os.getloadavg()}


TILE_NAME = re.compile(rf"^(?P<source>.+)-(?P<variant>{'|'.join(VARIANTS)})-\d+-\d+\.jpg$")


def pair_kinds():
    """What the two files of a pair are, from their paths: copies of one corpus family, two different
    corpus pictures, a tile and a corpus picture, two tiles of one wallpaper in one variant
    (neighbours), a tile and a negative of one wallpaper, or tiles of two wallpapers."""
    truth = json.loads((OUT / "truth.json").read_text())

    def kind(a: str, b: str) -> str:
        (ta, tb), (fa, fb) = (truth.get(Path(a).name), truth.get(Path(b).name)), \
            (TILE_NAME.match(Path(a).name), TILE_NAME.match(Path(b).name))
        if ta and tb:
            return "corpus copies" if ta["family"] == tb["family"] else "corpus, different pictures"
        if ta or tb:
            return "tile ~ corpus picture"
        if fa["source"] != fb["source"]:
            return "tiles of two wallpapers"
        return "neighbouring tiles, one variant" if fa["variant"] == fb["variant"] else "a tile and a negative"
    return kind


def joined_pairs(groups: list[dict], paths: dict[int, str]) -> dict[str, int]:
    """The verified pairs of the groups, counted by what their two files are (`pair_kinds`)."""
    kind = pair_kinds()
    counts: dict[str, int] = {}
    for group in groups:
        for pair in group["pairs"]:
            label = kind(paths[pair["a"]], paths[pair["b"]])
            counts[label] = counts.get(label, 0) + 1
    return counts


def table(points: list[dict]) -> list[str]:
    lines = ["| images | candidate search | pairs verified | pairs per image | features computed per image "
             "| verification | per pair | total | per image | CPU per image | groups (images in them) | load (1 min) |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for p in points:
        prepared = f"{p['prepared'] / p['files']:.2f}" if p.get("prepared") is not None else "-"
        lines.append(f"| {p['files']:,} | {p['candidates_s']:.1f} s | {p['pairs']:,} | {p['pairs'] / p['files']:.2f} "
                     f"| {prepared} "
                     f"| {p['verify_s']:.1f} s | {p['verify_s'] / max(1, p['pairs']) * 1000:.2f} ms "
                     f"| {p['total_s']:.1f} s | {p['total_s'] / p['files'] * 1000:.1f} ms "
                     f"| {p['cpu_s'] / p['files'] * 1000:.1f} ms | {p['groups']:,} ({p['grouped']:,}) "
                     f"| {p['load'][0]:.1f} |")
    return lines


def run(sizes: list[int]) -> list[str]:
    """Build (once) and time every size; the table's lines."""
    chunks = build(max(sizes))
    points = []
    for n in sizes:
        points.append(timed(chunks, n))
        print(table(points)[-1], flush=True)
    return table(points)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args()
    if args.build_only:
        build(max(args.sizes))
    else:
        print("\n".join(run(args.sizes)))


if __name__ == "__main__":
    main()
